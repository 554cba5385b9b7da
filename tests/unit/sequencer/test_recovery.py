"""sequencer.recovery: the sender-recovery worker's protocol, hostile frames, coalescing,
worker death, and a node that gives the same answers with and without the worker."""

from __future__ import annotations

import asyncio
import io
import logging
import struct
from dataclasses import replace

import pytest

from sequencer.config import ConfigError, NodeConfig
from sequencer.errors import TransactionRejected
from sequencer.node import Node
from sequencer.recovery import (
    ANSWER_SIZE,
    MAX_FRAME_TXS,
    MAX_RAW_BYTES,
    SenderRecovery,
    answer_frame,
    request_frame,
    serve,
)
from sequencer.types.transactions import SECP256K1N, Transaction, sign_transaction

KEYS = [bytes([i + 1]) * 32 for i in range(3)]
TO = b"\x22" * 20


def signed(key: bytes, nonce: int = 0, chain_id: int = 31337) -> Transaction:
    return sign_transaction(
        Transaction(
            2,
            chain_id,
            nonce,
            21_000,
            TO,
            1,
            b"",
            max_fee_per_gas=10**11,
            max_priority_fee_per_gas=1,
        ),
        key,
    )


def run_worker(stdin: bytes) -> tuple[int, bytes]:
    out = io.BytesIO()
    return serve(io.BytesIO(stdin), out), out.getvalue()


# ---------------------------------------------------------------- protocol


def test_answers_each_raw_in_order_and_rejects_bad_ones() -> None:
    txs = [signed(key) for key in KEYS]
    raws = [txs[0].encode(), b"\x02garbage", txs[1].encode(), b"", txs[2].encode()]
    code, out = run_worker(request_frame(raws) + request_frame(raws[:1]))
    assert code == 0
    assert len(out) == ANSWER_SIZE * 6
    answers = [out[i : i + ANSWER_SIZE] for i in range(0, len(out), ANSWER_SIZE)]
    assert answers[0] == b"\x01" + txs[0].sender
    assert answers[1] == b"\x00" + b"\x00" * 20
    assert answers[2] == b"\x01" + txs[1].sender
    assert answers[3][0] == 0
    assert answers[4] == b"\x01" + txs[2].sender
    assert answers[5] == answers[0]
    assert answer_frame([txs[0].encode()]) == answers[0]


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">I", 0),  # an empty frame
        struct.pack(">I", MAX_FRAME_TXS + 1),  # too many transactions
        struct.pack(">I", 2**32 - 1),
        struct.pack(">II", 1, MAX_RAW_BYTES + 1),  # a raw beyond any transaction's size
        struct.pack(">II", 1, 100) + b"short",  # truncated raw
        struct.pack(">I", 1) + b"\x00\x00",  # truncated length
        b"\x00\x00",  # truncated count
    ],
)
def test_malformed_frames_end_the_worker_with_status_2(frame: bytes) -> None:
    code, out = run_worker(frame)
    assert (code, out) == ((0, b"") if frame == b"\x00\x00" else (2, b""))


def test_end_of_input_ends_the_worker_cleanly() -> None:
    assert run_worker(b"") == (0, b"")


# ---------------------------------------------------------------- the node's side


async def test_one_frame_per_loop_step_answers_in_order() -> None:
    recovery = SenderRecovery()
    await recovery.start()
    try:
        assert recovery.running
        txs = [signed(key, nonce) for nonce in range(4) for key in KEYS]
        raws = [tx.encode() for tx in txs] + [b"\x02\xc0", b"not a transaction"]
        senders = await asyncio.gather(*(recovery.recover(raw) for raw in raws))
        assert senders == [tx.sender for tx in txs] + [None, None]
        assert recovery.frames == 1
        assert recovery.recovered == len(txs)
        # later steps: a frame each
        assert await recovery.recover(raws[0]) == txs[0].sender
        assert recovery.frames == 2
        assert await recovery.recover(b"\x00" * (MAX_RAW_BYTES + 1)) is None  # never sent
        assert recovery.frames == 2
    finally:
        await recovery.close()
    assert not recovery.running
    assert await recovery.recover(raws[0]) is None  # closed: the caller decodes inline
    await recovery.close()  # twice is harmless


async def test_a_dead_worker_answers_pending_and_later_calls_with_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recovery = SenderRecovery()
    await recovery.start()
    process = recovery._process
    assert process is not None
    raw = signed(KEYS[0]).encode()
    assert await recovery.recover(raw) == signed(KEYS[0]).sender
    with caplog.at_level(logging.ERROR, logger="hummingbird.node"):
        process.kill()
        pending = asyncio.gather(*(recovery.recover(raw) for _ in range(5)))
        assert await asyncio.wait_for(pending, 10) == [None] * 5
    assert not recovery.running
    assert "recovering inline" in caplog.text
    assert await recovery.recover(raw) is None
    await recovery.close()


def test_config_modes() -> None:
    assert NodeConfig(data_dir=None, sender_recovery="worker").uses_recovery_worker()
    assert not NodeConfig(data_dir=None, sender_recovery="inline").uses_recovery_worker()
    for bad in ("", "threads", "WORKER", None, 1):
        with pytest.raises(ConfigError, match="sender recovery"):
            NodeConfig(data_dir=None, sender_recovery=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["worker", "inline"])
async def test_node_admits_and_rejects_alike_with_either_mode(mode: str) -> None:
    node = Node(NodeConfig(data_dir=None, accounts=2, sender_recovery=mode))
    await node.start()
    try:
        assert node.recovery.running is (mode == "worker")
        key = node.accounts[0].private_key
        txs = [signed(key, nonce) for nonce in range(3)]
        hashes = await asyncio.gather(*(node.send_raw_transaction(tx.encode()) for tx in txs))
        assert hashes == [tx.hash for tx in txs]
        for tx in txs:
            found = node.chain.locate(tx.hash)
            assert found is not None
            block, index = found
            assert block.transactions[index].sender == node.accounts[0].address
        errors = []
        for bad in (b"", b"\x05\xc0", b"\x02\xc0", signed(key, 3, chain_id=5).encode()[:-1]):
            with pytest.raises(TransactionRejected) as caught:
                await node.send_raw_transaction(bad)
            errors.append(str(caught.value))
        assert errors == [
            "empty transaction",
            "transaction type 5 not supported",
            "type-2 transaction: expected 12 fields, got 0",
            "rlp: list runs past the end of input",
        ]
        high_s = signed(key, 3)
        forged = replace(high_s, s=SECP256K1N - high_s.s, v=1 - high_s.v).encode()
        with pytest.raises(TransactionRejected, match=r"r or s out of range"):
            await node.send_raw_transaction(forged)
    finally:
        await node.stop()
