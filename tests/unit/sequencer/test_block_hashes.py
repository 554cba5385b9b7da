"""What BLOCKHASH sees through the node: the chain's pinned readers, eth_call at a past
block, eth_simulateV1's own blocks, and readers that outlive new blocks and reverts."""

from __future__ import annotations

import asyncio

from sequencer.chain import Chain
from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.simulate_v1 import SimulatedBlockSpec
from sequencer.types.call import AccountOverride, CallRequest
from tests.helpers.asm import Asm

PROBE = bytes.fromhex("b10c000000000000000000000000000000000001")


def blockhash_of_calldata() -> bytes:
    """Returns BLOCKHASH(calldata word 0)."""
    return Asm().push(0).op("CALLDATALOAD", "BLOCKHASH").push(0).op("MSTORE").ret(0, 32).build()


def call_blockhash(node: Node, at: int, number: int) -> bytes:
    request = CallRequest(to=PROBE, data=number.to_bytes(32, "big"))
    overrides = {PROBE: AccountOverride(code=blockhash_of_calldata())}
    return asyncio.run(node.call(request, at, overrides))


def test_readers_eth_call_and_reverts() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        node.mine(300)
        chain = node.chain
        hashes = {}
        for n in range(301):
            block = chain.block_by_number(n)
            assert block is not None
            hashes[n] = block.hash
        nxt = chain.block_hashes
        assert nxt == chain.block_hashes_at(301)
        # It knows older blocks too; BLOCKHASH itself bounds the window to 256.
        assert [nxt.get(n) for n in (300, 45, 3, 301)] == [hashes[300], hashes[45], hashes[3], None]

        # eth_call at a past block reads that block's window, not the head's.
        assert call_blockhash(node, 200, 199) == hashes[199]
        assert call_blockhash(node, 200, 0) == hashes[0]  # 200 blocks back: in the window
        assert call_blockhash(node, 300, 30) == b"\x00" * 32  # out of the window
        assert call_blockhash(node, 300, 44) == hashes[44]

        # A reader made before a revert keeps its hashes; the new branch has its own.
        snapshot = node.snapshot()
        node.mine(2)
        pinned = chain.block_hashes_at(303)
        old = [pinned.get(301), pinned.get(302)]
        assert node.revert(snapshot)
        head = chain.head
        assert head is not None
        node.mine_at(head.header.timestamp + 100, 2)  # another timestamp: other hashes
        assert [pinned.get(301), pinned.get(302)] == old
        fresh = chain.block_hashes_at(303)
        assert fresh.get(301) != old[0] and fresh.get(300) == hashes[300]

        # A chain opened later keeps only the last 257 hashes in its log; older ones come
        # from the stored blocks.
        reopened = Chain(node.db).block_hashes_at(60)
        assert [reopened.get(n) for n in (10, 59)] == [hashes[10], hashes[59]]
    finally:
        node.close()


def test_simulate_v1_blocks_see_their_simulated_parents() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        node.mine(3)
        base = node.head_number
        ask = CallRequest(to=PROBE, data=(base + 1).to_bytes(32, "big"))
        ask_base = CallRequest(to=PROBE, data=base.to_bytes(32, "big"))
        specs = [
            SimulatedBlockSpec(
                state_overrides={PROBE: AccountOverride(code=blockhash_of_calldata())}
            ),
            SimulatedBlockSpec(calls=(ask, ask_base)),
        ]
        first, second = asyncio.run(node.simulate_v1(specs, base))
        head = node.block(base)
        assert head is not None
        assert second.calls[0].return_data == first.block.hash
        assert second.calls[1].return_data == head.hash
    finally:
        node.close()
