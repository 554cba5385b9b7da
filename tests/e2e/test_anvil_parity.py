"""Side by side with anvil: the same scenario on both nodes, answers compared step by step.

``tests.e2e.scenario.STEPS`` runs once on a fresh anvil (the npm package
``@foundry-rs/anvil-linux-amd64`` 1.7.1 that ``scripts/peers/install.sh`` pins; ``make test``
installs it) and once on a fresh Hummingbird; each step's answers are normalised
(``tests.e2e.normalise``: hashes to positions, timestamps/roots/base fees by kind) and must
then be equal, or have the same shape for ``check="shape"`` steps.

Differences that remain are listed, each with its triage and reason (docs/rpc.md explains
them for users):

- ``KNOWN_DIFFERENCES``: steps whose answers differ; the step is an expected failure
  (``xfail``) with the reason, and fails if the difference goes away (so the list stays true);
- ``FIELD_RULES``: fields one node puts in every block/receipt/transaction object and the
  other never does; dropped before comparing, and ``test_field_differences_still_occur``
  checks each one is still seen.

Triage: ``bug`` (ours, reported, to fix), ``intentional`` (we follow geth, DESIGN §8, or
serve more than anvil), ``anvil quirk`` (anvil departs from geth and the JSON-RPC spec).

Without the anvil binary the comparison is skipped, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pytest

from scripts.peers.start import ANVIL, start_peer
from tests.e2e.normalise import Comparator, FieldRule
from tests.e2e.scenario import STEPS, Run, Step, run_scenario
from tests.integration.node_process import free_port, hummingbird

BUG: Final = "bug, reported"
INTENTIONAL: Final = "intentional"
ANVIL_QUIRK: Final = "anvil quirk"

_SUPERSET = "a method anvil does not serve (it answers -32601); Hummingbird serves it like geth"

# step name -> (triage, reason)
KNOWN_DIFFERENCES: Final[dict[str, tuple[str, str]]] = {
    # Methods we serve and anvil does not.
    "net_peerCount": (INTENTIONAL, _SUPERSET),
    # EIP-7928 block access lists: anvil 1.7.1 has none of the five methods.
    "bal.latest": (INTENTIONAL, _SUPERSET),
    "bal.byHash": (INTENTIONAL, _SUPERSET),
    "bal.byNumber": (INTENTIONAL, _SUPERSET),
    "bal.raw": (INTENTIONAL, _SUPERSET),
    "bal.raw.debug": (INTENTIONAL, _SUPERSET),
    "eth_mining": (INTENTIONAL, _SUPERSET),
    "debug.rawBlock": (INTENTIONAL, _SUPERSET),
    "send.realtime.bad": (INTENTIONAL, _SUPERSET),
    "debug.storageRange": (INTENTIONAL, _SUPERSET),
    "debug.dbGet": (
        ANVIL_QUIRK,
        "anvil 1.7.1 reads debug_dbGet's params as a bare string (JSON-RPC params are an "
        "array), so every call is -32602 there; ours answers geth's -32000 'not found'",
    ),
    "trace.parity.replayTx": (INTENTIONAL, _SUPERSET),
    "trace.parity.get": (INTENTIONAL, _SUPERSET),
    "trace.parity.call": (INTENTIONAL, _SUPERSET),
    "trace.parity.raw": (INTENTIONAL, _SUPERSET),
    "trace.parity.callMany": (INTENTIONAL, _SUPERSET),
    "trace.block.rlp": (INTENTIONAL, _SUPERSET),
    "debug.rawHeader": (INTENTIONAL, _SUPERSET),
    "debug.rawReceipts": (INTENTIONAL, _SUPERSET),
    "trace.tx.unknown": (
        ANVIL_QUIRK,
        "anvil answers an empty struct-logger trace for a transaction it does not have, "
        "whatever tracer was asked; geth and we answer 'transaction ... not found'",
    ),
    "trace.call": (
        INTENTIONAL,
        "a call without gas gets min(block gas limit, --rpc-gas-cap, the EIP-7825 "
        "per-transaction cap 2**24 under Osaka), as our eth_call does; anvil's debug_traceCall "
        "gives it the whole block gas limit, which no Osaka transaction can have",
    ),
    "simulate.v1": (
        INTENTIONAL,
        "anvil numbers the first simulated block with the head's number; geth and we use "
        "head + 1 (and, as geth, we send the post-Cancun/Prague header fields, size and "
        "withdrawals that anvil's simulated blocks leave out)",
    ),
    # anvil 1.7.1 predates anvil_setNextBlockPrevRandao; hardhat_setPrevRandao is Hardhat's.
    "dev.prevRandao": (INTENTIONAL, _SUPERSET),
    "dev.prevRandao.hardhat": (INTENTIONAL, _SUPERSET),
    "dev.drop.hardhat": (
        INTENTIONAL,
        "Hardhat's answer (a bool), which Hardhat 3's network helpers require; anvil's alias "
        "answers the hash or null",
    ),
    "compat.storageValues": (
        ANVIL_QUIRK,
        "anvil 1.7.1 cannot parse a short hex slot key (odd number of digits); geth's form works",
    ),
    "compat.config": (
        INTENTIONAL,
        "the fork id is EIP-2124's CRC32 of our genesis hash (anvil sends 0x00000000), and no "
        "deposit contract is listed because the devnet has none",
    ),
    "compat.getProof": (
        INTENTIONAL,
        "our stateRoot is a flat-state commitment, not an MPT root: no EIP-1186 proof could "
        "verify against it, so eth_getProof is refused with that reason (docs/rpc.md)",
    ),
    "compat.signTypedData.v3": (INTENTIONAL, "anvil answers Not implemented; we sign as v4 does"),
    "dev.rpcUrl": (
        INTENTIONAL,
        "anvil takes a URL for a fork it is not running; we refuse until fork mode exists",
    ),
    "txpool.content_from": (INTENTIONAL, _SUPERSET),
    "pending_transactions": (INTENTIONAL, _SUPERSET),
    "sign.typed": (
        INTENTIONAL,
        "eth_signTypedData is an alias of eth_signTypedData_v4 here (MetaMask's and "
        "Hardhat's); anvil answers -32603 Not implemented",
    ),
    # Hummingbird follows geth (DESIGN §8) where anvil departs from it.
    "block.pending": (
        INTENTIONAL,
        "geth's pending block (head + 1, the system calls run, real roots) has no hash, "
        "nonce or miner; anvil fills them in and leaves its state root zero",
    ),
    "access_list.revert": (
        INTENTIONAL,
        "geth answers a reverting eth_createAccessList with a result carrying an `error` "
        "field; anvil answers a code-3 error",
    ),
    "revert.out_of_gas": (
        INTENTIONAL,
        'geth: -32000 "out of gas"; anvil: -32603 "EVM error OutOfGas"',
    ),
    "logs.bad_range": (
        INTENTIONAL,
        'fromBlock > toBlock: geth refuses ("invalid block range params"); anvil answers []',
    ),
    "fee_history.decimal_count": (
        INTENTIONAL,
        "without percentiles geth omits `reward`; anvil sends an empty list",
    ),
    "fee_history.bad_percentiles": (
        INTENTIONAL,
        "geth refuses descending reward percentiles (-32602); anvil accepts them",
    ),
    "sign.unknown_account": (
        INTENTIONAL,
        'geth: -32000 "unknown account"; anvil: -32602 "No Signer available"',
    ),
    "pool.undecodable": (
        INTENTIONAL,
        "geth reads 0x12.. as an unsupported typed transaction (-32000 transaction type "
        'not supported); anvil: -32602 "Failed to decode transaction"',
    ),
    "ws.notify.heads": (
        INTENTIONAL,
        "newHeads sends the header like geth; anvil sends the whole block (size, "
        "transactions, uncles, withdrawals, totalDifficulty)",
    ),
    # anvil departs from geth and from the JSON-RPC spec.
    "estimate.insufficient_funds": (
        ANVIL_QUIRK,
        "anvil estimates a transfer of more value than the sender has (21000); geth refuses",
    ),
    "revert.custom": (
        ANVIL_QUIRK,
        "for a custom error anvil appends the raw revert bytes to the message as text "
        '("custom error 0xe8620800: \\u0000..."); geth says "execution reverted"',
    ),
    "pool.insufficient_funds": (
        ANVIL_QUIRK,
        'anvil capitalises geth\'s "insufficient funds for gas * price + value"',
    ),
    "pool.send_tx_insufficient_funds": (
        ANVIL_QUIRK,
        'anvil capitalises geth\'s "insufficient funds for gas * price + value"',
    ),
    "pool.already_known": (
        ANVIL_QUIRK,
        'anvil says "transaction already imported"; geth "already known"',
    ),
    "envelope.parse_error": (
        ANVIL_QUIRK,
        "invalid JSON is -32700 Parse error in JSON-RPC 2.0; anvil answers -32600",
    ),
    "pool.wrong_chain": (
        ANVIL_QUIRK,
        "anvil accepts (and mines) a transaction signed for chain id 1; geth refuses it "
        "(invalid chain id for signer)",
    ),
}

FIELD_RULES: Final[tuple[FieldRule, ...]] = (
    FieldRule(
        "receipt",
        "blockTimestamp",
        "anvil",
        ANVIL_QUIRK,
        "anvil puts blockTimestamp in receipts as a JSON number, not a hex quantity",
    ),
    FieldRule(
        "receipt",
        "blockTimestamp",
        "hummingbird",
        INTENTIONAL,
        "we send it too, as a hex quantity like our transactions' and logs' blockTimestamp",
    ),
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """(Hummingbird's run, anvil's run) of the whole scenario, each on a fresh node."""
    if not ANVIL.is_file():
        message = f"anvil is not installed ({ANVIL}): run `bash scripts/peers/install.sh`"
        if _in_ci():
            pytest.fail(f"{message}; CI must install it (make test does)")
        pytest.skip(message)
    with start_peer("anvil", free_port()) as url:
        theirs = run_scenario(url)
    workdir: Path = tmp_path_factory.mktemp("hummingbird")
    with hummingbird(workdir) as node:
        ours = run_scenario(node.url)
    return ours, theirs


def _diff(comparator: Comparator, step: Step, ours: Run, theirs: Run) -> str | None:
    return comparator.diff(
        step.name,
        ours.responses[step.name],
        theirs.responses[step.name],
        our_labels=ours.labels,
        their_labels=theirs.labels,
        check=step.check,
        message=step.message,
        loose=step.loose,
    )


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_step_matches_anvil(step: Step, runs: tuple[Run, Run]) -> None:
    ours, theirs = runs
    for who, run in (("hummingbird", ours), ("anvil", theirs)):
        if "scenario_error" in run.responses[step.name]:
            pytest.fail(f"the scenario broke on {who}: {run.responses[step.name]}")
    difference = _diff(Comparator(FIELD_RULES), step, ours, theirs)
    known = KNOWN_DIFFERENCES.get(step.name)
    if difference is None:
        if known is not None:
            pytest.fail(f"{step.name} now matches anvil: remove it from KNOWN_DIFFERENCES")
        return
    if known is not None:
        triage, reason = known
        pytest.xfail(f"{triage}: {reason}")
    pytest.fail(f"{step.name} ({step.method}) differs from anvil:\n{difference}")


def test_field_differences_still_occur(runs: tuple[Run, Run]) -> None:
    ours, theirs = runs
    comparator = Comparator(FIELD_RULES)
    for step in STEPS:
        _diff(comparator, step, ours, theirs)
    stale = [f"{r.kind}.{r.key} ({r.side})" for r in FIELD_RULES if r not in comparator.fired]
    assert not stale, f"no longer seen, remove from FIELD_RULES: {stale}"


def test_scenario_covers_every_method() -> None:
    from rpc.namespaces import default_registry

    used = {s.method for s in STEPS}
    # A reset rewrites the chain the comparison labels block by block at the end, so it is
    # checked in tests/unit/sequencer/test_dev.py and tests/integration instead.
    used |= {"anvil_reset", "hardhat_reset"}
    # Otterscan's methods are compared with anvil, method by method, on the trace corpus
    # in tests/e2e/test_ots_parity.py.
    used |= {name for name in default_registry.names() if name.startswith("ots_")}
    used.add("erigon_getHeaderByNumber")
    # MegaETH's optional methods (served only with --megaeth-extras; anvil has neither)
    # are tested in tests/unit/rpc/test_megaeth_extras.py.
    used |= {"eth_callAfter", "eth_getLogsWithCursor"}
    # A replica's bootstrap (anvil has no replicas): tests/integration/test_replica.py.
    used.add("hummingbird_replicaSnapshot")
    missing = [name for name in default_registry.names() if name not in used]
    assert not missing, f"methods the anvil comparison never calls: {missing}"


def test_known_differences_name_steps() -> None:
    names = {s.name for s in STEPS}
    assert len(names) == len(STEPS), "step names must be unique"
    assert set(KNOWN_DIFFERENCES) <= names, set(KNOWN_DIFFERENCES) - names
    for triage, reason in KNOWN_DIFFERENCES.values():
        assert triage in (BUG, INTENTIONAL, ANVIL_QUIRK) and reason
