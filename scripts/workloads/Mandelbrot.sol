// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// scripts/evm_bench.py's compute workload: the Mandelbrot set in signed fixed point
/// (28 fractional bits), pure arithmetic on the stack; `unchecked` as production math
/// libraries are (the values stay far below 2^255).
contract Mandelbrot {
    uint256 private constant FRAC = 28;

    /// Escape-time iterations of z <- z^2 + c (at most `maxIter`, escape when |z|^2 > 4) over a
    /// `width` x `height` grid of [-2.5, 1) x [-1.25, 1.25); folded row by row, pixel by
    /// pixel, as checksum <- checksum * 31 + iterations (mod 2^256).
    function run(uint256 width, uint256 height, uint256 maxIter)
        external
        pure
        returns (uint256 checksum)
    {
        unchecked {
            int256 four = int256(4 << FRAC);
            int256 dx = int256((7 << (FRAC - 1)) / width); // 3.5 / width
            int256 dy = int256((5 << (FRAC - 1)) / height); // 2.5 / height
            int256 ci = -int256(5 << (FRAC - 2)); // -1.25
            for (uint256 py = 0; py < height; ++py) {
                int256 cr = -int256(5 << (FRAC - 1)); // -2.5
                for (uint256 px = 0; px < width; ++px) {
                    int256 zr = 0;
                    int256 zi = 0;
                    uint256 it = 0;
                    while (it < maxIter) {
                        int256 zr2 = (zr * zr) >> FRAC;
                        int256 zi2 = (zi * zi) >> FRAC;
                        if (zr2 + zi2 > four) break;
                        zi = ((zr * zi) >> (FRAC - 1)) + ci;
                        zr = zr2 - zi2 + cr;
                        ++it;
                    }
                    checksum = checksum * 31 + it;
                    cr += dx;
                }
                ci += dy;
            }
        }
    }
}
