// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// scripts/evm_bench.py's hashing workload: a hash chain in scratch memory, as
/// production code hashes (no memory growth per round).
contract KeccakLoop {
    /// h_0 = seed; h_{i+1} = keccak256(h_i ++ uint256(i)); returns h_n.
    function run(uint256 n, bytes32 seed) external pure returns (bytes32 h) {
        h = seed;
        for (uint256 i = 0; i < n; ++i) {
            assembly {
                mstore(0x00, h)
                mstore(0x20, i)
                h := keccak256(0x00, 0x40)
            }
        }
    }
}
