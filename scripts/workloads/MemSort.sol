// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// scripts/evm_bench.py's memory workload: fill an in-memory array from a linear
/// congruential generator, sort it with a bottom-up merge sort between two buffers
/// (every pass reads and writes the whole array), and hash the result.
contract MemSort {
    /// x_{i+1} = x_i * 6364136223846793005 + 1442695040888963407 (mod 2^256), x_0 = seed;
    /// element i is x_{i+1} >> 128. Returns keccak256 of the sorted array's 32-byte words.
    function run(uint256 n, uint256 seed) external pure returns (bytes32) {
        uint256[] memory a = new uint256[](n);
        unchecked {
            uint256 x = seed;
            for (uint256 i = 0; i < n; ++i) {
                x = x * 6364136223846793005 + 1442695040888963407;
                a[i] = x >> 128;
            }
        }
        uint256[] memory b = new uint256[](n);
        for (uint256 width = 1; width < n; width *= 2) {
            for (uint256 lo = 0; lo < n; lo += 2 * width) {
                uint256 mid = _min(lo + width, n);
                uint256 hi = _min(lo + 2 * width, n);
                uint256 i = lo;
                uint256 j = mid;
                for (uint256 k = lo; k < hi; ++k) {
                    if (i < mid && (j >= hi || a[i] <= a[j])) {
                        b[k] = a[i];
                        ++i;
                    } else {
                        b[k] = a[j];
                        ++j;
                    }
                }
            }
            (a, b) = (b, a);
        }
        return keccak256(abi.encodePacked(a));
    }

    function _min(uint256 x, uint256 y) private pure returns (uint256) {
        return x < y ? x : y;
    }
}
