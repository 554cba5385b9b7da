"""Normalising two nodes' answers so they compare, and a readable diff when they do not.

What legitimately differs between two fresh dev chains running the same requests:

- block and transaction hashes (timestamps, state roots and default-filled fields go into
  them): ``Run.labels`` maps each to its position, ``<block 3>`` / ``<tx 3.0>``, so a hash
  still has to point at the same block or transaction on both nodes;
- the values under ``LOOSE_KEYS`` (timestamps, state roots, prevRandao, the base fee, the
  block gas limit and what follows from them): compared by kind only (``<quantity>``,
  ``<data32>``, ``<int>``, ...), never by value;
- the message of -32600/-32601/-32602/-32700 errors: the code is compared, the text is
  not (anvil prints serde's decoder messages; Hummingbird prints geth's, DESIGN §8);
- anvil's pool-rejection code -32003 is read as geth's -32000 (``EQUIVALENT_CODES``);
- fields one node always adds to a kind of object (``FieldRule``; the table of them and
  why lives in ``tests/e2e/test_anvil_parity.py``): dropped, and recorded as seen.

Everything else is compared exactly: statuses, gas used, logs, return and revert data,
balances, nonces, error codes, messages and data.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

Json = Any

LOOSE_KEYS: Final = frozenset(
    {
        "timestamp",
        "blockTimestamp",
        "stateRoot",
        "mixHash",
        "baseFeePerGas",
        "gasLimit",
        "size",
    }
)
# Errors whose text is the JSON-RPC layer's own wording, not Ethereum's (see module docstring).
CODE_ONLY_ERRORS: Final = frozenset({-32600, -32601, -32602, -32700})
# anvil answers pool rejections with EIP-1474's -32003 "transaction rejected"; geth, and
# Hummingbird after it (DESIGN §8), with -32000. Compared as equal; the message still counts.
EQUIVALENT_CODES: Final = {-32003: -32000}

_QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")
_DATA = re.compile(r"^0x([0-9a-fA-F]{2})*$")
# nonce, filter/subscription id, address, hash, signature, logs bloom
_FIXED_SIZES = (8, 16, 20, 32, 65, 256)


def kind(value: Json) -> str:
    """What a JSON value is, not what it holds: ``quantity``, ``data32``, ``int``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        if _DATA.match(value) and (len(value) - 2) // 2 in _FIXED_SIZES:
            return f"data{(len(value) - 2) // 2}"
        if _QUANTITY.match(value):
            return "quantity"
        if _DATA.match(value):
            return "data"
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def shape(value: Json) -> Json:
    """``value`` with every leaf replaced by ``<kind>``: keys and kinds must agree."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return value  # already a shape
    return f"<{kind(value)}>"


@dataclass(frozen=True)
class FieldRule:
    """A field one node puts in every object of a kind and the other never does.

    ``kind``: ``block``, ``receipt`` or ``transaction`` (see ``object_kind``); ``side``:
    who has the field (``anvil`` or ``hummingbird``); the field is dropped from that
    side's objects before comparing, and ``Comparator.fired`` records that it was seen.
    """

    kind: str
    key: str
    side: str
    triage: str
    reason: str


def object_kind(obj: dict[str, Any]) -> str | None:
    """What a JSON object is: a block (or newHeads header), receipt, transaction or log."""
    if "sha3Uncles" in obj:
        return "block"
    if "cumulativeGasUsed" in obj:
        return "receipt"
    if "nonce" in obj and "input" in obj:
        return "transaction"
    if "logIndex" in obj:
        return "log"
    return None


@dataclass
class Comparator:
    """Normalises both sides and diffs them; remembers which ``FieldRule``s applied."""

    rules: tuple[FieldRule, ...] = ()
    fired: set[FieldRule] = field(default_factory=set)

    def normalise(
        self, value: Json, labels: dict[str, str], loose: frozenset[str], side: str
    ) -> Json:
        """Hashes to position labels, ``LOOSE_KEYS`` and ``loose`` values to their shapes,
        anvil's -32003 to -32000, and the ``rules``' one-sided fields dropped."""
        if isinstance(value, dict):
            kind_of = object_kind(value)
            drop = set()
            for rule in self.rules:
                if rule.side == side and rule.kind == kind_of and rule.key in value:
                    drop.add(rule.key)
                    self.fired.add(rule)
            out = {}
            for key, item in value.items():
                if key in drop:
                    continue
                if key in LOOSE_KEYS or key in loose:
                    out[key] = shape(item)
                else:
                    out[key] = self.normalise(item, labels, loose, side)
            error = out.get("error")
            if isinstance(error, dict) and isinstance(error.get("code"), int):
                code = EQUIVALENT_CODES.get(error["code"], error["code"])
                out["error"] = {**error, "code": code}
                if code in CODE_ONLY_ERRORS:
                    out["error"]["message"] = "<message>"
            return out
        if isinstance(value, list):
            return [self.normalise(v, labels, loose, side) for v in value]
        if isinstance(value, str):
            return labels.get(value.lower(), value)
        return value

    def diff(
        self,
        name: str,
        ours: Json,
        theirs: Json,
        *,
        our_labels: dict[str, str],
        their_labels: dict[str, str],
        check: str = "exact",
        message: str = "exact",
        loose: frozenset[str] = frozenset(),
    ) -> str | None:
        """None if the answers agree under ``check``/``message``; else a unified diff."""
        if check == "shape":
            theirs, ours = _shape_of_result(theirs), _shape_of_result(ours)
        a = self.normalise(theirs, their_labels, loose, "anvil")
        b = self.normalise(ours, our_labels, loose, "hummingbird")
        if message == "prefix":
            b = _prefix_message(a, b)
        if a == b:
            return None
        lines = difflib.unified_diff(
            _dump(a), _dump(b), fromfile=f"anvil/{name}", tofile=f"hummingbird/{name}", lineterm=""
        )
        return "\n".join(lines)


def _dump(value: Json) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True).splitlines()


def _shape_of_result(value: Json) -> Json:
    """Shape of a result; an error stays as it is (its code and message still count)."""
    if isinstance(value, dict) and "result" in value:
        return {**value, "result": shape(value["result"])}
    return value


def _prefix_message(theirs: Json, ours: Json) -> Json:
    """``ours`` with its error message cut to anvil's if anvil's is a prefix of it
    (geth appends details after the fixed text: ``nonce too low: next nonce 4, ...``)."""
    if not (isinstance(theirs, dict) and isinstance(ours, dict)):
        return ours
    a, b = theirs.get("error"), ours.get("error")
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return ours
    text, prefix = b.get("message"), a.get("message")
    if isinstance(text, str) and isinstance(prefix, str) and text.startswith(prefix):
        return {**ours, "error": {**b, "message": prefix}}
    return ours
