"""Chain objects to JSON: blocks, transactions, receipts, logs (camelCase lives here).

Owns the wire shape of every object the eth_ namespace returns, matching geth
and anvil field for field (post-Prague header fields, typed-transaction fields
by type, EIP-4844 receipt fields).
"""

from __future__ import annotations

from typing import Any

from rpc.codecs import data, quantity
from sequencer.chain import LogEntry
from sequencer.types.blocks import MiniBlock, Receipt
from sequencer.types.transactions import Transaction

Json = dict[str, Any]


def address(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def header_json(block: MiniBlock) -> Json:
    h = block.header
    out = _header_fields(block)
    if h.block_access_list_hash is not None:  # Amsterdam (execution-apis' and geth's names)
        out["blockAccessListHash"] = data(h.block_access_list_hash)
        out["slotNumber"] = quantity(h.slot_number or 0)
    return out


def _header_fields(block: MiniBlock) -> Json:
    h = block.header
    return {
        "hash": data(block.hash),
        "parentHash": data(h.parent_hash),
        "sha3Uncles": data(h.ommers_hash),
        "miner": data(h.coinbase),
        "stateRoot": data(h.state_root),
        "transactionsRoot": data(h.transactions_root),
        "receiptsRoot": data(h.receipts_root),
        "logsBloom": data(h.logs_bloom),
        "difficulty": quantity(h.difficulty),
        "totalDifficulty": quantity(0),  # anvil and Hardhat still send it; geth dropped it
        "number": quantity(h.number),
        "gasLimit": quantity(h.gas_limit),
        "gasUsed": quantity(h.gas_used),
        "timestamp": quantity(h.timestamp),
        "extraData": data(h.extra_data),
        "mixHash": data(h.prev_randao),
        "nonce": data(h.nonce),
        "baseFeePerGas": quantity(h.base_fee_per_gas),
        "withdrawalsRoot": data(h.withdrawals_root),
        "blobGasUsed": quantity(h.blob_gas_used),
        "excessBlobGas": quantity(h.excess_blob_gas),
        "parentBeaconBlockRoot": data(h.parent_beacon_block_root),
        "requestsHash": data(h.requests_hash),
    }


def block_json(block: MiniBlock, full: bool) -> Json:
    out = header_json(block)
    out["size"] = quantity(block.size)
    out["uncles"] = []
    out["withdrawals"] = []
    if full:
        out["transactions"] = [
            transaction_json(tx, block, i) for i, tx in enumerate(block.transactions)
        ]
    else:
        out["transactions"] = [data(tx.hash) for tx in block.transactions]
    return out


def transaction_json(tx: Transaction, block: MiniBlock | None, index: int | None) -> Json:
    """A transaction as eth_getTransactionByHash shows it (pending when ``block`` is None)."""
    out: Json = {
        "type": quantity(tx.tx_type),
        "hash": data(tx.hash),
        "nonce": quantity(tx.nonce),
        "blockHash": None if block is None else data(block.hash),
        "blockNumber": None if block is None else quantity(block.number),
        "transactionIndex": None if index is None else quantity(index),
        "from": data(tx.sender),
        "to": address(tx.to),
        "value": quantity(tx.value),
        "gas": quantity(tx.gas_limit),
        "input": data(tx.data),
    }
    if block is not None:
        out["blockTimestamp"] = quantity(block.header.timestamp)
    if tx.tx_type in (0, 1):
        out["gasPrice"] = quantity(tx.gas_price)
    else:
        out["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
        if block is not None:
            base = block.header.base_fee_per_gas
            tip = min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base)
            out["gasPrice"] = quantity(base + tip)
        else:
            out["gasPrice"] = quantity(tx.max_fee_per_gas)
    if tx.chain_id is not None:
        out["chainId"] = quantity(tx.chain_id)
    if tx.tx_type >= 1:
        out["accessList"] = [
            {"address": data(a), "storageKeys": [data(s.to_bytes(32, "big")) for s in slots]}
            for a, slots in tx.access_list
        ]
    if tx.tx_type == 3:
        out["maxFeePerBlobGas"] = quantity(tx.max_fee_per_blob_gas)
        out["blobVersionedHashes"] = [data(h) for h in tx.blob_versioned_hashes]
    if tx.tx_type == 4:
        out["authorizationList"] = [
            {
                "chainId": quantity(a.chain_id),
                "address": data(a.address),
                "nonce": quantity(a.nonce),
                "yParity": quantity(a.y_parity),
                "r": quantity(a.r),
                "s": quantity(a.s),
            }
            for a in tx.authorization_list
        ]
    out["v"] = quantity(tx.v)
    out["r"] = quantity(tx.r)
    out["s"] = quantity(tx.s)
    if tx.tx_type != 0:
        out["yParity"] = quantity(tx.v)
    return out


def log_json(entry: LogEntry, timestamp: int | None = None, removed: bool = False) -> Json:
    out: Json = {
        "address": data(entry.log.address),
        "topics": [data(t) for t in entry.log.topics],
        "data": data(entry.log.data),
        "blockHash": data(entry.block_hash),
        "blockNumber": quantity(entry.block_number),
        "transactionHash": data(entry.tx_hash),
        "transactionIndex": quantity(entry.tx_index),
        "logIndex": quantity(entry.log_index),
        "removed": removed,
    }
    if timestamp is not None:
        out["blockTimestamp"] = quantity(timestamp)
    return out


def receipt_json(block: MiniBlock, index: int, blob_base_fee: int | None = None) -> Json:
    tx = block.transactions[index]
    receipt: Receipt = block.receipts[index]
    first_log = sum(len(r.logs) for r in block.receipts[:index])  # log indexes are per block
    logs = [
        log_json(
            LogEntry(log, block.number, block.hash, index, tx.hash, first_log + i),
            block.header.timestamp,
        )
        for i, log in enumerate(receipt.logs)
    ]
    out: Json = {
        "type": quantity(tx.tx_type),
        "status": quantity(receipt.status),
        "cumulativeGasUsed": quantity(receipt.cumulative_gas_used),
        "logs": logs,
        "logsBloom": data(receipt.logs_bloom),
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "blockHash": data(block.hash),
        "blockNumber": quantity(block.number),
        "blockTimestamp": quantity(block.header.timestamp),
        "gasUsed": quantity(receipt.gas_used),
        "effectiveGasPrice": quantity(receipt.effective_gas_price),
        "from": data(tx.sender),
        "to": address(tx.to),
        "contractAddress": address(receipt.contract_address),
    }
    if tx.tx_type == 3:
        out["blobGasUsed"] = quantity(receipt.blob_gas_used)
    if blob_base_fee is not None:
        # Every receipt, as anvil (and Hardhat) send it; geth only in blob receipts.
        out["blobGasPrice"] = quantity(blob_base_fee)
    return out
