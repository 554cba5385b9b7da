"""Replica == sequencer (issue 18), in process: a replica node started from the
sequencer's genesis applies each sealed block as the replication stream carries it
(compact bytes, diff included) without executing, and then answers every state, block,
receipt and log read as the sequencer does at every block, across dev edits and a revert;
a block that does not fit (wrong parent, a diff that does not give the header's root) is
refused with nothing written."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from jit.forks import Fork
from sequencer.access_list import record_key
from sequencer.chain import LogFilter
from sequencer.config import ChainConfig, ConfigError, NodeConfig
from sequencer.errors import ReplicaMismatch
from sequencer.node import Node
from sequencer.types.blocks import MiniBlock, Receipt
from sequencer.types.transactions import Transaction, sign_transaction
from sequencer.types.wire import decode_block, encode_block
from statedb.types import Account, StateDiff

SINK = b"\x77" * 20
# Runtime code: LOG1(0, 0, topic 1), SSTORE(slot 0, CALLVALUE + 1).
EMITTER = bytes.fromhex("60015f5fa1" + "3460010160005500")
EMITTER_ADDRESS = b"\xe0" * 20


def _config() -> NodeConfig:
    return NodeConfig(data_dir=None, accounts=2)


def _tx(node: Node, nonce: int, to: bytes, value: int) -> Transaction:
    return sign_transaction(
        Transaction(2, 31337, nonce, 100_000, to, value, b"", 10**10, 10**9),
        node.accounts[0].private_key,
    )


def _mine(node: Node, *txs: Transaction) -> None:
    for tx in txs:
        node.pool.add(tx, tx.encode())
    node.mine(1)


def _ship(sequencer: Node, replica: Node, number: int) -> None:
    """One block through the wire, as the stream sends it."""
    replica.apply_replicated(decode_block(encode_block(sequencer.replicated_block(number))))


def _lying_about_gas(real: MiniBlock) -> MiniBlock:
    """``real`` with a header claiming one more gas used (its diff still gives its root)."""
    header = replace(real.header, gas_used=real.header.gas_used + 1)
    return MiniBlock(
        header, header.hash(), real.transactions, real.receipts, real.size, real.encoded, real.diff
    )


def _same_reads(sequencer: Node, replica: Node, addresses: list[bytes]) -> None:
    assert replica.head_number == sequencer.head_number
    for number in range(sequencer.head_number + 1):
        ours, theirs = replica.block(number), sequencer.block(number)
        assert ours is not None and theirs is not None
        assert ours.hash == theirs.hash and ours.receipts == theirs.receipts, number
        for address in addresses:
            assert replica.account(address, number) == sequencer.account(address, number)
            assert replica.code(address, number) == sequencer.code(address, number)
            assert replica.storage(address, 0, number) == sequencer.storage(address, 0, number)
    everything = LogFilter(0, sequencer.head_number)
    assert replica.logs(everything) == sequencer.logs(everything)
    for number in range(1, sequencer.head_number + 1):
        block = sequencer.block(number)
        assert block is not None
        for tx in block.transactions:
            found, expected = (
                replica.locate_transaction(tx.hash),
                sequencer.locate_transaction(tx.hash),
            )
            assert found is not None and expected is not None
            assert (found[0].hash, found[1]) == (expected[0].hash, expected[1])
            assert found[0].transactions[found[1]].encode() == tx.encode()


def test_replica_applies_blocks_and_answers_as_the_sequencer() -> None:
    sequencer = Node(_config())
    replica = Node(replace(_config(), replica=True), genesis=sequencer.replicated_block(0))
    try:
        assert replica.block(0) == sequencer.block(0)
        sequencer.edit_state(EMITTER_ADDRESS, code=EMITTER)
        _mine(sequencer, _tx(sequencer, 0, SINK, 5), _tx(sequencer, 1, EMITTER_ADDRESS, 3))
        sequencer.edit_state(SINK, balance=12345)
        _mine(sequencer, _tx(sequencer, 2, EMITTER_ADDRESS, 0))
        snapshot = sequencer.snapshot()
        _mine(sequencer, _tx(sequencer, 3, SINK, 1))
        for number in range(1, sequencer.head_number + 1):
            _ship(sequencer, replica, number)
        addresses = [SINK, EMITTER_ADDRESS, sequencer.accounts[0].address]
        _same_reads(sequencer, replica, addresses)
        # The sequencer reverts and seals another line: the replica follows.
        assert sequencer.revert(snapshot)
        replica.revert_replicated(sequencer.head_number)
        _mine(sequencer, _tx(sequencer, 3, SINK, 9))
        _ship(sequencer, replica, sequencer.head_number)
        _same_reads(sequencer, replica, addresses)
        # Nothing seals on the replica by itself.
        assert not replica.mining_mode.auto and replica.mining_mode.interval is None
    finally:
        replica.close()
        sequencer.close()


def test_blocks_that_do_not_fit_are_refused_and_change_nothing() -> None:
    sequencer = Node(_config())
    replica = Node(replace(_config(), replica=True), genesis=sequencer.replicated_block(0))
    try:
        _mine(sequencer, _tx(sequencer, 0, SINK, 5))
        _mine(sequencer, _tx(sequencer, 1, SINK, 6))
        second = sequencer.replicated_block(2)
        with pytest.raises(ReplicaMismatch, match="does not follow"):
            replica.apply_replicated(second)  # block 1 missing
        first = sequencer.replicated_block(1)
        assert first.diff is not None
        forged = StateDiff(accounts={**first.diff.accounts, SINK: Account(0, 10**30)})
        with pytest.raises(ReplicaMismatch, match="state root"):
            replica.apply_replicated(first.published(forged, first.index))
        with pytest.raises(ReplicaMismatch, match="without its state diff"):
            replica.apply_replicated(first.published(None, first.index))
        assert replica.head_number == 0 and replica.account(SINK, 0) is None
        replica.apply_replicated(first)
        replica.apply_replicated(second)
        assert replica.account(SINK, 2) == sequencer.account(SINK, 2)
    finally:
        replica.close()
        sequencer.close()


def test_a_replica_refuses_another_chains_database(tmp_path: object) -> None:
    first = Node(_config())
    other = Node(_config())
    try:
        genesis = first.replicated_block(0)
        assert genesis.hash != other.replicated_block(0).hash or True
        path = str(tmp_path) + "/replica"
        Node(replace(_config(), data_dir=path, replica=True), genesis=genesis).close()
        # Reopened with the same sequencer's genesis: fine; with another's: refused.
        Node(replace(_config(), data_dir=path, replica=True), genesis=genesis).close()
        forged = MiniBlock(
            genesis.header,
            b"\x01" * 32,
            genesis.transactions,
            genesis.receipts,
            genesis.size,
            genesis.encoded,
            genesis.diff,
        )
        with pytest.raises(ConfigError, match="another chain"):
            Node(replace(_config(), data_dir=path, replica=True), genesis=forged)
    finally:
        first.close()
        other.close()


def test_verify_execution_accepts_real_blocks_and_catches_a_forged_one() -> None:

    sequencer = Node(_config())
    replica = Node(replace(_config(), replica=True), genesis=sequencer.replicated_block(0))
    try:
        sequencer.edit_state(EMITTER_ADDRESS, code=EMITTER)  # carried by block 1's edits
        _mine(sequencer, _tx(sequencer, 0, EMITTER_ADDRESS, 3), _tx(sequencer, 1, SINK, 5))
        _mine(sequencer, _tx(sequencer, 2, EMITTER_ADDRESS, 1))
        for number in (1, 2):
            block = sequencer.replicated_block(number)
            edits = sequencer.block_edits(number)
            assert (edits is not None) == (number == 1)
            replica.apply_replicated(block, edits, verify=True)
        assert replica.block_edits(1) == sequencer.block_edits(1)  # kept for replays
        # A block whose diff gives its root but whose header lies about its receipts.
        _mine(sequencer, _tx(sequencer, 3, SINK, 1))
        real = sequencer.replicated_block(3)
        forged = _lying_about_gas(real)
        with pytest.raises(ReplicaMismatch, match="gas_used"):
            replica.apply_replicated(forged, verify=True)
        assert replica.head_number == 2
        replica.apply_replicated(forged)  # unverified, the root check alone passes it
        assert replica.head_number == 3
    finally:
        replica.close()
        sequencer.close()


def test_one_tier_blocks_are_signed_and_a_replica_checks_it() -> None:
    from typing import Any, cast

    from rpc.replica import ReplicaLink, Sequencer

    sequencer = Node(_config())
    try:
        assert sequencer.block_signature(0) is None  # genesis is not a sealed mini-block
        _mine(sequencer, _tx(sequencer, 0, SINK, 5))
        signed = sequencer.block_signature(1)
        assert signed is not None
        from sequencer.mini_block_signing import verify_mini_block

        assert verify_mini_block(signed, sequencer.sequencer.address)
        block = sequencer.block(1)
        assert block is not None
        link = ReplicaLink(
            cast(Node, None), cast(Sequencer, None), signer=sequencer.sequencer.address
        )
        sig = signed.signature
        note: dict[str, Any] = {
            "timestamp": hex(signed.header.mini_block_timestamp),
            "r": hex(sig.r),
            "s": hex(sig.s),
            "yParity": hex(sig.y_parity),
        }
        link._check_signature(block, note)
        assert link.status.signed_blocks == 1
        link._check_signature(block, None)  # unsigned (two-tier, older): passes unchecked
        for forged in (
            {**note, "timestamp": hex(signed.header.mini_block_timestamp + 1)},
            {**note, "yParity": hex(1 - sig.y_parity)},
            {**note, "r": "0x1"},
            {**note, "r": "junk"},
            {"timestamp": note["timestamp"]},
        ):
            with pytest.raises(ReplicaMismatch):
                link._check_signature(block, forged)
    finally:
        sequencer.close()


# Runtime code: CALL(gas, EMITTER_ADDRESS, 0, 0, 0, 0, 0), STOP: EMITTER is reached only
# by an inner call, so no receipt names it as `to` (its log does, LOG1's address).
CALLER = bytes.fromhex("5f5f5f5f5f73" + EMITTER_ADDRESS.hex() + "5af100")
CALLER_ADDRESS = b"\xca" * 20
# Runtime code: CALL(gas, SINK, 0, ...), STOP: an inner call that leaves no log at all.
SILENT_CALLER = bytes.fromhex("5f5f5f5f5f73" + SINK.hex() + "5af100")
SILENT_CALLER_ADDRESS = b"\xcb" * 20


def test_a_replica_keeps_the_sequencers_address_index_inner_calls_included() -> None:
    """The index keys travel with the block: a replica answers address appearances for
    addresses reached only by inner calls, live and when catching up, without tracing."""
    sequencer = Node(_config())
    replica = Node(replace(_config(), replica=True), genesis=sequencer.replicated_block(0))
    live: list[MiniBlock] = []
    try:
        sequencer.subscribe_blocks(live.append)
        sequencer.edit_state(EMITTER_ADDRESS, code=EMITTER)
        sequencer.edit_state(CALLER_ADDRESS, code=CALLER)
        sequencer.edit_state(SILENT_CALLER_ADDRESS, code=SILENT_CALLER)
        _mine(sequencer, _tx(sequencer, 0, CALLER_ADDRESS, 0), _tx(sequencer, 1, SINK, 2))
        _mine(sequencer, _tx(sequencer, 2, SILENT_CALLER_ADDRESS, 0))
        _mine(sequencer, _tx(sequencer, 3, CALLER_ADDRESS, 0))
        assert [block.number for block in live] == [1, 2, 3]
        assert all(block.index is not None for block in live)
        # Blocks 1-2 as published live, block 3 as a follower catching up reads it.
        for block in live[:2]:
            replica.apply_replicated(decode_block(encode_block(block)))
        catch_up = sequencer.replicated_block(3)
        assert catch_up.index == live[2].index
        replica.apply_replicated(decode_block(encode_block(catch_up)))
        for address, expected in (
            (EMITTER_ADDRESS, [(1, 0), (3, 0)]),  # inner calls only
            (SINK, [(1, 1), (2, 0)]),  # a transfer, then an inner call with no log
            (SILENT_CALLER_ADDRESS, [(2, 0)]),
        ):
            found = sequencer.address_appearances(address, 0, False, 10)
            assert found == expected, address.hex()
            assert replica.address_appearances(address, 0, False, 10) == found
        everything = LogFilter(0, sequencer.head_number)
        assert replica.logs(everything) == sequencer.logs(everything)
    finally:
        replica.close()
        sequencer.close()


def test_a_block_shipped_without_its_index_is_indexed_from_its_receipts() -> None:
    """An index-less block (an older sequencer's) still gets its log index and the
    addresses its receipts name, derived on the replica."""
    sequencer = Node(_config())
    replica = Node(replace(_config(), replica=True), genesis=sequencer.replicated_block(0))
    try:
        sequencer.edit_state(EMITTER_ADDRESS, code=EMITTER)
        _mine(sequencer, _tx(sequencer, 0, EMITTER_ADDRESS, 1), _tx(sequencer, 1, SINK, 2))
        block = sequencer.replicated_block(1)
        assert block.diff is not None and block.index is not None
        bare = decode_block(encode_block(block.published(block.diff, None)))
        assert bare.index is None
        replica.apply_replicated(bare)
        everything = LogFilter(0, 1)
        assert replica.logs(everything) == sequencer.logs(everything)
        for address in (EMITTER_ADDRESS, SINK):
            assert replica.address_appearances(address, 0, False, 10) == (
                sequencer.address_appearances(address, 0, False, 10)
            )
    finally:
        replica.close()
        sequencer.close()


@pytest.mark.parametrize("fork", [Fork.OSAKA, Fork.AMSTERDAM])
async def test_verify_execution_runs_blocks_in_parallel_on_the_replicas_workers(
    fork: Fork,
) -> None:
    """With worker processes, ``--verify-execution`` re-executes a block on the
    optimistic executor (shares by sender, merged in order): the real blocks pass, a
    forged one is still caught, and the workers follow the applied blocks. On Amsterdam
    the access list built from the workers' outcomes must give the header's hash."""
    senders = 20
    config = NodeConfig(data_dir=None, accounts=senders, chain=ChainConfig(fork=fork))
    sequencer = Node(config)
    replica = Node(
        replace(config, replica=True, workers=1, sender_recovery="inline"),
        genesis=sequencer.replicated_block(0),
    )
    await replica.start()
    try:
        verifier = replica.verify_executor()
        assert verifier is not None and verifier.workers is replica.workers
        verifier.measured = False  # parallel whenever the batch is large enough

        def transfers(nonce: int) -> list[Transaction]:
            return [
                sign_transaction(
                    Transaction(
                        2, 31337, nonce, 100_000, bytes([0xD0, i]) * 10, 1 + i, b"", 10**10, 10**9
                    ),
                    account.private_key,
                )
                for i, account in enumerate(sequencer.accounts)
            ]

        _mine(sequencer, *transfers(0))
        _mine(sequencer, *transfers(1))
        replica.apply_replicated(sequencer.replicated_block(1), verify=True)
        assert verifier.stats.parallel_batches == 1  # all senders in one batch, shared out
        real = sequencer.replicated_block(2)
        forged = _lying_about_gas(real)
        with pytest.raises(ReplicaMismatch, match="gas_used"):
            replica.apply_replicated(forged, verify=True)
        assert replica.head_number == 1
        replica.apply_replicated(real, verify=True)
        assert verifier.stats.parallel_batches == 3  # the forged block ran too
        assert replica.chain_head.hash == sequencer.chain_head.hash
        for number in (1, 2):  # the lists built from the workers' outcomes, kept
            kept = replica.chain.meta(record_key(number))
            assert kept == sequencer.chain.meta(record_key(number))
            assert (kept is not None) == (fork is Fork.AMSTERDAM)
        _same_reads(sequencer, replica, [bytes([0xD0, i]) * 10 for i in range(senders)])
    finally:
        await replica.stop()
        sequencer.close()


def test_a_sealed_two_tier_block_must_keep_its_preconfirmations() -> None:
    """A replica holding a two-tier sequencer's mini-blocks refuses a sealed EVM block
    that drops, reorders or changes what they preconfirmed; the real one applies."""
    from typing import cast

    from rpc.namespaces.replication import preconfirmed_notification
    from rpc.replica import ReplicaLink, Sequencer
    from sequencer.publication import MiniBlockPreconfirmed

    config = NodeConfig(data_dir=None, accounts=3, block_time=5.0, evm_block_time=3600.0)
    sequencer = Node(config)
    replica = Node(replace(config, replica=True), genesis=sequencer.replicated_block(0))
    minis: list[MiniBlockPreconfirmed] = []
    try:
        sequencer.subscribe(
            lambda event: minis.append(event) if isinstance(event, MiniBlockPreconfirmed) else None
        )
        link = ReplicaLink(replica, cast(Sequencer, None), signer=None)
        for nonce in (0, 1):
            for tx in (_tx(sequencer, nonce * 2, SINK, 1), _tx(sequencer, nonce * 2 + 1, SINK, 2)):
                sequencer.pool.add(tx, tx.encode())
            assert sequencer.producer.produce() is None  # a mini-block, no EVM block
        assert len(minis) == 2
        for event in minis:
            note = preconfirmed_notification(
                event.block, event.info.first_tx, event.diff, event.info, None, None
            )
            link._apply(note)
        assert replica.open_evm_block is not None and len(replica.open_evm_block.raws) == 4
        sealed = sequencer.producer.seal_open()
        assert sealed is not None
        real = sequencer.replicated_block(sealed.number)

        def forged(order: list[int], receipts: tuple[Receipt, ...] | None = None) -> MiniBlock:
            return MiniBlock(
                real.header,
                real.hash,
                tuple(real.transactions[i] for i in order),
                receipts or tuple(real.receipts[i] for i in order),
                real.size,
                tuple(real.encoded[i] for i in order),
                real.diff,
            )

        failed = replace(real.receipts[1], status=0)
        for block, message in (
            (forged([0, 1, 2]), "preconfirmed 4"),
            (forged([3, 2, 1, 0]), "transaction 0 is not"),
            (
                forged([0, 1, 2, 3], (real.receipts[0], failed, *real.receipts[2:])),
                "receipt of transaction 1",
            ),
        ):
            with pytest.raises(ReplicaMismatch, match=message):
                replica.apply_replicated(block)
            assert replica.head_number == 0 and replica.open_evm_block is not None
        replica.apply_replicated(real)
        assert replica.open_evm_block is None
        assert replica.chain_head.hash == sequencer.chain_head.hash
    finally:
        replica.close()
        sequencer.close()


def test_an_amsterdam_replica_verifies_and_keeps_the_access_list() -> None:
    """``--verify-execution`` on Amsterdam: the block executed here must commit to the
    same access list hash (a header lying about it is refused), and the list it built is
    kept and served as the sequencer's; an unverified replica serves the replayed one."""
    config = replace(_config(), chain=ChainConfig(fork=Fork.AMSTERDAM))
    sequencer = Node(config)
    replica = Node(replace(config, replica=True), genesis=sequencer.replicated_block(0))
    try:
        sequencer.edit_state(EMITTER_ADDRESS, code=EMITTER)
        _mine(sequencer, _tx(sequencer, 0, EMITTER_ADDRESS, 3), _tx(sequencer, 1, SINK, 5))
        real = sequencer.replicated_block(1)
        header = replace(real.header, block_access_list_hash=b"\x42" * 32)
        forged = MiniBlock(
            header,
            header.hash(),
            real.transactions,
            real.receipts,
            real.size,
            real.encoded,
            real.diff,
        )
        edits = sequencer.block_edits(1)
        with pytest.raises(ReplicaMismatch, match="block_access_list_hash"):
            replica.apply_replicated(forged, edits, verify=True)
        assert replica.head_number == 0
        replica.apply_replicated(real, edits, verify=True)
        assert replica.chain.meta(record_key(1)) == sequencer.chain.meta(record_key(1))
        _mine(sequencer, _tx(sequencer, 2, SINK, 1))
        replica.apply_replicated(sequencer.replicated_block(2))  # unverified: no record
        assert replica.chain.meta(record_key(2)) is None
        for number in (1, 2):
            ours = asyncio.run(replica.block_access_list(number, None, None))
            theirs = asyncio.run(sequencer.block_access_list(number, None, None))
            assert ours is not None and ours == theirs
    finally:
        replica.close()
        sequencer.close()
