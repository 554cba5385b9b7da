"""MegaETH mode (``--megaeth``): what a dApp built for MegaETH sees of its chain.

Owns the mode's defaults and answer shapes, each from MegaETH's published documentation
(megaeth-labs/documentation, 2026; the research notes of issue 17 quote each):

- chain id 4326 (MegaETH mainnet; 6343 is its testnet), a 10,000,000,000 gas block limit,
  a fixed base fee of 0.001 gwei (``eth_gasPrice`` 0xf4240) and a suggested priority fee
  of 0 (``eth_maxPriorityFeePerGas`` 0x0);
- two tiers on: mini-blocks preconfirm, EVM blocks seal every second;
- ``eth_getBlockByNumber("pending")`` answers null;
- receipts carry the OP-stack L1 fee fields (``l1GasPrice``, ``l1GasUsed``, ``l1Fee``,
  ``l1BaseFeeScalar``, ``l1BlobBaseFee``, ``l1BlobBaseFeeScalar``): zero here, there is no L1;
- WebSocket: at most 5 subscriptions per connection (-32005 beyond), a duplicate
  subscription refused (-32600);
- a realtime send that times out: -32000 ``realtime transaction expired``.

Not followed (documented in docs/rpc.md): the Rex5 gas model (its storage gas on top of
Ethereum's compute gas) and MegaETH's per-transaction resource limits; execution stays
Ethereum's rules of the configured hardfork.

No EIP.
"""

from __future__ import annotations

from typing import Final

MEGAETH_CHAIN_ID: Final = 4326
MEGAETH_GAS_LIMIT: Final = 10_000_000_000
MEGAETH_BASE_FEE: Final = 1_000_000  # 0.001 gwei, fixed
MEGAETH_PRIORITY_FEE: Final = 0
MEGAETH_EVM_BLOCK_TIME: Final = 1.0  # seconds
MEGAETH_MAX_SUBSCRIPTIONS: Final = 5  # per WebSocket connection

SUBSCRIPTION_LIMIT_CODE: Final = -32005
DUPLICATE_SUBSCRIPTION_CODE: Final = -32600
REALTIME_EXPIRED_CODE: Final = -32000
REALTIME_EXPIRED_MESSAGE: Final = "realtime transaction expired"

# The OP-stack receipt fields MegaETH's receipts carry; zero on a chain with no L1.
L1_RECEIPT_FIELDS: Final = (
    "l1GasPrice",
    "l1GasUsed",
    "l1Fee",
    "l1BaseFeeScalar",
    "l1BlobBaseFee",
    "l1BlobBaseFeeScalar",
)
