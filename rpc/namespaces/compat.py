"""eth_ and anvil_ methods kept for compatibility with anvil 1.7.1's method table.

Owns: the proof-of-work leftovers (``eth_getWork``, ``eth_submitWork``,
``eth_submitHashrate``: refused with anvil's -32603 "Not implemented"),
``eth_protocolVersion`` and ``eth_networkId``, raw transactions by block and index,
``eth_getStorageValues`` (many slots of many accounts in one call),
``eth_getTransactionBySenderAndNonce`` (anvil, Otterscan), ``eth_config`` (EIP-7910),
``eth_signTypedData_v3``, ``eth_getProof`` (refused with the reason: our stateRoot is not
an MPT root), the blob getters (``anvil_getBlobByHash``,
``anvil_getBlobsByTransactionHash``: this node keeps only canonical blob transactions,
never sidecars, so both answer null) and anvil's Tempo fee-token methods (refused: this
is not a Tempo network).
"""

from __future__ import annotations

import zlib
from typing import Any, Final

from rpc.codecs import data, invalid, parse_address, parse_storage_slot, quantity
from rpc.dispatch import (
    Address,
    BlockIdParam,
    BlockNumberParam,
    Hash,
    Quantity,
    RequestContext,
    method,
)
from rpc.namespaces.dev import Number
from rpc.namespaces.eth import LATEST, _block_or_none, block_number, node_of
from rpc.namespaces.sign import sign_typed_data
from rpc.serialize import transaction_json
from sequencer.errors import InvalidInput, NodeError
from sequencer.genesis import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
)

MAX_STORAGE_VALUES: Final = 1024  # slots per eth_getStorageValues call
PRECOMPILE_NAMES: Final = {
    1: "ECREC",
    2: "SHA256",
    3: "RIPEMD160",
    4: "ID",
    5: "MODEXP",
    6: "BN254_ADD",
    7: "BN254_MUL",
    8: "BN254_PAIRING",
    9: "BLAKE2F",
    0x0A: "KZG_POINT_EVALUATION",
    0x0B: "BLS12_G1ADD",
    0x0C: "BLS12_G1MSM",
    0x0D: "BLS12_G2ADD",
    0x0E: "BLS12_G2MSM",
    0x0F: "BLS12_PAIRING_CHECK",
    0x10: "BLS12_MAP_FP_TO_G1",
    0x11: "BLS12_MAP_FP2_TO_G2",
    0x100: "P256VERIFY",
}


def _no_mining() -> NodeError:
    # anvil's code and words, then why.
    return NodeError("Not implemented: there is no proof-of-work mining", code=-32603)


@method("eth_getWork")
async def get_work(ctx: RequestContext) -> None:
    raise _no_mining()


@method("eth_submitWork")
async def submit_work(ctx: RequestContext, nonce: object, pow_hash: object, digest: object) -> None:
    raise _no_mining()


@method("eth_submitHashrate")
async def submit_hashrate(ctx: RequestContext, rate: object, client_id: object) -> None:
    raise _no_mining()


@method("eth_protocolVersion")
async def protocol_version(ctx: RequestContext) -> int:
    return 1  # anvil's answer


@method("eth_networkId")
async def network_id(ctx: RequestContext) -> str:
    return str(node_of(ctx).config.chain.chain_id)


@method("eth_getRawTransactionByBlockHashAndIndex")
async def raw_tx_by_hash_and_index(
    ctx: RequestContext, block_hash: Hash, index: Quantity
) -> str | None:
    block = node_of(ctx).block_by_hash(block_hash)
    if block is None or not 0 <= index < len(block.transactions):
        return None
    return data(block.encoded[index])


@method("eth_getRawTransactionByBlockNumberAndIndex")
async def raw_tx_by_number_and_index(
    ctx: RequestContext, block: BlockNumberParam, index: Quantity
) -> str | None:
    found = _block_or_none(node_of(ctx), block)
    if found is None or not 0 <= index < len(found.transactions):
        return None
    return data(found.encoded[index])


@method("eth_getStorageValues")
async def get_storage_values(
    ctx: RequestContext, requests: object, block: BlockIdParam = LATEST
) -> dict[str, list[str]]:
    """``{address: [slot, ...]}`` -> ``{address: [value, ...]}`` (32-byte words)."""
    if not isinstance(requests, dict):
        raise invalid(0, "expected an object of address -> list of slots")
    total = sum(len(v) if isinstance(v, list) else 0 for v in requests.values())
    if total > MAX_STORAGE_VALUES:
        raise InvalidInput(f"too many slots: {total}, at most {MAX_STORAGE_VALUES} per call")
    node = node_of(ctx)
    number = block_number(node, block)
    out: dict[str, list[str]] = {}
    for key, slots in requests.items():
        address = parse_address(key, 0)
        if not isinstance(slots, list):
            raise invalid(0, f"slots of {key[:42]} must be a list")
        parsed = [parse_storage_slot(slot, 0) for slot in slots]
        out[data(address)] = [
            data(node.storage(address, slot, number).to_bytes(32, "big")) for slot in parsed
        ]
    return out


@method("ots_getTransactionBySenderAndNonce")
async def ots_tx_by_sender_and_nonce(
    ctx: RequestContext, sender: Address, nonce: Number
) -> str | None:
    """Otterscan's form: the hash only."""
    found = node_of(ctx).transaction_by_sender_and_nonce(sender, nonce)
    return None if found is None else data(found[0].hash)


@method("eth_getTransactionBySenderAndNonce")
async def tx_by_sender_and_nonce(
    ctx: RequestContext, sender: Address, nonce: Number
) -> dict[str, Any] | None:
    found = node_of(ctx).transaction_by_sender_and_nonce(sender, nonce)
    if found is None:
        return None
    tx, block, index = found
    return transaction_json(tx, block, index)


@method("eth_config")
async def config(ctx: RequestContext) -> dict[str, Any]:
    """EIP-7910. Every fork is active from genesis, so ``next`` and ``last`` are null and
    the fork id is EIP-2124's CRC32 of the genesis hash alone. There is no deposit
    contract (no EIP-6110 deposits on a devnet), so it is not listed."""
    node = node_of(ctx)
    rules = node.rules
    genesis = node.block(0)
    assert genesis is not None
    schedule = rules.blob_schedule
    fork_id = zlib.crc32(genesis.hash).to_bytes(4, "big")
    precompiles = {
        PRECOMPILE_NAMES.get(int.from_bytes(a, "big"), "0x" + a.hex()): data(a)
        for a in sorted(rules.precompiles, key=lambda a: int.from_bytes(a, "big"))
    }
    system = {
        "BEACON_ROOTS_ADDRESS": data(BEACON_ROOTS_ADDRESS),
        "HISTORY_STORAGE_ADDRESS": data(HISTORY_STORAGE_ADDRESS),
    }
    if rules.system_requests:
        system["WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS"] = data(WITHDRAWAL_REQUEST_ADDRESS)
        system["CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS"] = data(CONSOLIDATION_REQUEST_ADDRESS)
    return {
        "current": {
            "activationTime": 0,
            "blobSchedule": {
                "baseFeeUpdateFraction": schedule.base_fee_update_fraction,
                "max": schedule.max,
                "target": schedule.target,
            },
            "chainId": quantity(node.config.chain.chain_id),
            "forkId": data(fork_id),
            "precompiles": precompiles,
            "systemContracts": system,
        },
        "next": None,
        "last": None,
    }


@method("eth_getProof")
async def get_proof(
    ctx: RequestContext, address: Address, slots: object, block: BlockIdParam = LATEST
) -> None:
    """Refused on purpose: an EIP-1186 proof is a Merkle-Patricia path to the header's
    stateRoot, and ours is not an MPT root (statedb's bucketed commitment, DESIGN §5), so
    any proof we made up would fail verification against the block it names."""
    raise NodeError(
        "eth_getProof is not supported: this node's stateRoot is a flat-state commitment, "
        "not a Merkle-Patricia trie root, so no EIP-1186 proof can verify against it; use "
        "eth_getAccount / eth_getStorageAt (or anvil for proofs)"
    )


@method("eth_signTypedData_v3")
async def sign_typed_data_v3(ctx: RequestContext, address: Address, typed: object) -> str:
    # v3 is v4 without arrays of structs; eth-account's encoder covers both.
    return await sign_typed_data(ctx, address, typed)


@method("anvil_getBlobByHash")
async def blob_by_hash(ctx: RequestContext, versioned_hash: Hash) -> None:
    return None


@method("anvil_getBlobsByTransactionHash")
async def blobs_by_transaction(ctx: RequestContext, tx_hash: Hash) -> None:
    return None


def _not_tempo(method_name: str) -> None:
    raise NodeError(f"Not implemented: {method_name} is only for Tempo networks", code=-32603)


@method("anvil_setFeeToken")
async def set_fee_token(ctx: RequestContext, user: Address, token: Address) -> None:
    _not_tempo("anvil_setFeeToken")


@method("anvil_setValidatorFeeToken")
async def set_validator_fee_token(ctx: RequestContext, validator: Address, token: Address) -> None:
    _not_tempo("anvil_setValidatorFeeToken")


@method("anvil_setFeeAmmLiquidity")
async def set_fee_amm_liquidity(
    ctx: RequestContext, a: object = None, b: object = None, c: object = None, d: object = None
) -> None:
    _not_tempo("anvil_setFeeAmmLiquidity")
