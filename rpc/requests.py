"""Object parameters: transaction/call objects, state and block overrides, log filters.

Owns decoding the JSON objects eth_call, eth_estimateGas, eth_sendTransaction,
eth_getLogs and eth_newFilter take into ``sequencer`` request types. Parsing is
lenient like geth's: unknown fields are ignored, ``input`` and ``data`` are both
accepted (they must agree when both are given); every field that is present is
checked strictly and a bad one is reported as ``invalid argument N: <field>: ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from rpc.codecs import (
    BlockId,
    invalid,
    json_type,
    parse_address,
    parse_block_number,
    parse_data,
    parse_hash,
    parse_quantity,
    parse_uint64,
)
from rpc.errors import InvalidParams
from sequencer.chain import LogFilter
from sequencer.errors import NodeError
from sequencer.types.call import AccountOverride, BlockOverride, CallRequest
from sequencer.types.transactions import AuthorizationTuple

T = TypeVar("T")

MAX_OVERRIDE_ACCOUNTS: Final = 1_000
MAX_OVERRIDE_SLOTS: Final = 100_000
MAX_FILTER_TERMS: Final = 1_000
MAX_ACCESS_LIST: Final = 10_000


def _object(value: object, arg: int, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into {what}")
    return value


def _field(
    obj: dict[str, Any], name: str, parse: Callable[[object, int | None], T], arg: int
) -> T | None:
    value = obj.get(name)
    if value is None:
        return None
    try:
        return parse(value, None)
    except InvalidParams as error:
        raise invalid(arg, f"{name}: {error.message}") from None


def _list(value: object, arg: int, name: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(arg, f"{name}: cannot unmarshal {json_type(value)} into array")
    if len(value) > limit:
        raise invalid(arg, f"{name}: too many entries ({len(value)}, limit {limit})")
    return value


def _access_list(value: object, arg: int) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    out = []
    for item in _list(value, arg, "accessList", MAX_ACCESS_LIST):
        entry = _object(item, arg, "accessList entry")
        address = _field(entry, "address", parse_address, arg)
        if address is None:
            raise invalid(arg, "accessList: entry without address")
        keys = _list(entry.get("storageKeys") or [], arg, "storageKeys", MAX_ACCESS_LIST)
        slots = []
        for key in keys:
            try:
                slots.append(int.from_bytes(parse_hash(key, None), "big"))
            except InvalidParams as error:
                raise invalid(arg, f"storageKeys: {error.message}") from None
        out.append((address, tuple(slots)))
    return tuple(out)


def _authorizations(value: object, arg: int) -> tuple[AuthorizationTuple, ...]:
    out = []
    for item in _list(value, arg, "authorizationList", MAX_ACCESS_LIST):
        entry = _object(item, arg, "authorization")
        fields = {}
        for name, parse in (
            ("chainId", parse_quantity),
            ("nonce", parse_uint64),
            ("yParity", parse_quantity),
            ("r", parse_quantity),
            ("s", parse_quantity),
        ):
            parsed = _field(entry, name, parse, arg)
            if parsed is None:
                raise invalid(arg, f"authorizationList: missing {name}")
            fields[name] = parsed
        address = _field(entry, "address", parse_address, arg)
        if address is None:
            raise invalid(arg, "authorizationList: missing address")
        out.append(
            AuthorizationTuple(
                fields["chainId"],
                address,
                fields["nonce"],
                fields["yParity"],
                fields["r"],
                fields["s"],
            )
        )
    return tuple(out)


def parse_call_request(value: object, arg: int = 0) -> CallRequest:
    """A transaction object (TransactionArgs in geth)."""
    obj = _object(value, arg, "TransactionArgs")
    data = _field(obj, "data", parse_data, arg)
    input_ = _field(obj, "input", parse_data, arg)
    if data is not None and input_ is not None and data != input_:
        raise invalid(arg, 'both "data" and "input" are set and not equal')
    payload = input_ if input_ is not None else data
    tx_type = _field(obj, "type", parse_uint64, arg)
    if tx_type is not None and tx_type > 4:
        raise invalid(arg, f"type: transaction type {tx_type} not supported")
    access_list = obj.get("accessList")
    hashes = obj.get("blobVersionedHashes")
    auths = obj.get("authorizationList")
    blob_hashes: tuple[bytes, ...] = ()
    if hashes is not None:
        blob_hashes = tuple(
            parse_hash(h, arg) for h in _list(hashes, arg, "blobVersionedHashes", 64)
        )
    return CallRequest(
        sender=_field(obj, "from", parse_address, arg),
        to=_field(obj, "to", parse_address, arg),
        gas=_field(obj, "gas", parse_uint64, arg),
        gas_price=_field(obj, "gasPrice", parse_quantity, arg),
        max_fee_per_gas=_field(obj, "maxFeePerGas", parse_quantity, arg),
        max_priority_fee_per_gas=_field(obj, "maxPriorityFeePerGas", parse_quantity, arg),
        value=_field(obj, "value", parse_quantity, arg) or 0,
        data=payload or b"",
        nonce=_field(obj, "nonce", parse_uint64, arg),
        tx_type=tx_type,
        chain_id=_field(obj, "chainId", parse_quantity, arg),
        access_list=None if access_list is None else _access_list(access_list, arg),
        max_fee_per_blob_gas=_field(obj, "maxFeePerBlobGas", parse_quantity, arg),
        blob_versioned_hashes=blob_hashes,
        authorization_list=() if auths is None else _authorizations(auths, arg),
    )


def _slots(value: object, arg: int, name: str) -> dict[int, int]:
    obj = _object(value, arg, f"{name} map")
    if len(obj) > MAX_OVERRIDE_SLOTS:
        raise invalid(arg, f"{name}: too many slots ({len(obj)}, limit {MAX_OVERRIDE_SLOTS})")
    out = {}
    for key, slot_value in obj.items():
        try:
            out[int.from_bytes(parse_hash(key, None), "big")] = int.from_bytes(
                parse_hash(slot_value, None), "big"
            )
        except InvalidParams as error:
            raise invalid(arg, f"{name}: {error.message}") from None
    return out


def parse_state_overrides(value: object, arg: int) -> dict[bytes, AccountOverride] | None:
    if value is None:
        return None
    obj = _object(value, arg, "map[common.Address]OverrideAccount")
    if len(obj) > MAX_OVERRIDE_ACCOUNTS:
        raise invalid(arg, f"too many accounts overridden (limit {MAX_OVERRIDE_ACCOUNTS})")
    out = {}
    for key, spec in obj.items():
        try:
            address = parse_address(key, None)
        except InvalidParams as error:
            raise invalid(arg, error.message) from None
        fields = _object(spec, arg, "OverrideAccount")
        state = fields.get("state")
        state_diff = fields.get("stateDiff")
        if state is not None and state_diff is not None:
            raise invalid(arg, f"account 0x{address.hex()} has both 'state' and 'stateDiff'")
        out[address] = AccountOverride(
            balance=_field(fields, "balance", parse_quantity, arg),
            nonce=_field(fields, "nonce", parse_uint64, arg),
            code=_field(fields, "code", parse_data, arg),
            state=None if state is None else _slots(state, arg, "state"),
            state_diff=None if state_diff is None else _slots(state_diff, arg, "stateDiff"),
            move_precompile_to=_field(fields, "movePrecompileToAddress", parse_address, arg),
        )
    return out


def parse_block_overrides(value: object, arg: int) -> BlockOverride | None:
    if value is None:
        return None
    obj = _object(value, arg, "BlockOverrides")

    def first(*names: str, parse: Callable[[object, int | None], T]) -> T | None:
        for name in names:
            parsed = _field(obj, name, parse, arg)
            if parsed is not None:
                return parsed
        return None

    return BlockOverride(
        number=first("number", parse=parse_quantity),
        time=first("time", "timestamp", parse=parse_uint64),
        gas_limit=first("gasLimit", parse=parse_uint64),
        coinbase=first("feeRecipient", "coinbase", parse=parse_address),
        prev_randao=first("prevRandao", "random", parse=parse_hash),
        base_fee=first("baseFeePerGas", "baseFee", parse=parse_quantity),
        blob_base_fee=first("blobBaseFee", parse=parse_quantity),
    )


def _terms(
    value: object, arg: int, name: str, parse: Callable[[object, int | None], bytes]
) -> frozenset[bytes] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_FILTER_TERMS:
        raise invalid(arg, f"{name}: too many entries (limit {MAX_FILTER_TERMS})")
    try:
        return frozenset(parse(item, None) for item in items if item is not None)
    except InvalidParams as error:
        raise invalid(arg, f"{name}: {error.message}") from None


def parse_filter(
    value: object, arg: int, resolve: Callable[[BlockId], int], head: int
) -> tuple[LogFilter, bytes | None]:
    """A filter object: (query, blockHash or None). Open ``toBlock``s resolve to ``head``."""
    obj = _object(value, arg, "FilterCriteria")
    block_hash = _field(obj, "blockHash", parse_hash, arg)
    from_raw, to_raw = obj.get("fromBlock"), obj.get("toBlock")
    if block_hash is not None and (from_raw is not None or to_raw is not None):
        raise invalid(
            arg, "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
        )
    addresses = _terms(obj.get("address"), arg, "address", parse_address) or frozenset()
    topics_raw = obj.get("topics")
    topics: list[frozenset[bytes] | None] = []
    if topics_raw is not None:
        for position in _list(topics_raw, arg, "topics", 4):
            terms = _terms(position, arg, "topics", parse_hash)
            topics.append(terms if terms else None)
    while topics and topics[-1] is None:
        topics.pop()
    start = head if from_raw is None else resolve(_block(from_raw, arg))
    end = head if to_raw is None else resolve(_block(to_raw, arg))
    if block_hash is None and start > end:
        raise NodeError("invalid block range params")  # geth: -32000
    return LogFilter(start, end, addresses, tuple(topics)), block_hash


def _block(value: object, arg: int) -> BlockId:
    try:
        return parse_block_number(value, None)
    except InvalidParams as error:
        raise invalid(arg, error.message) from None
