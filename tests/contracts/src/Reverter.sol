// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Every way a call can fail, for the error-shape tests (code 3, `execution reverted: ...`,
/// `data`), plus the gas shapes that catch naive eth_estimateGas implementations.
contract Reverter {
    error Insufficient(uint256 have, uint256 want);

    uint256 public sink;

    /// Error(string): `execution reverted: reverted with reason`.
    function revertWithReason() external pure {
        require(false, "reverted with reason");
    }

    /// A custom error: data is the selector of Insufficient(uint256,uint256) and the two words.
    function revertWithCustomError(uint256 have, uint256 want) external pure {
        revert Insufficient(have, want);
    }

    /// Panic(0x01).
    function panicAssert() external pure {
        assert(false);
    }

    /// Panic(0x12): division by zero.
    function panicDivideByZero(uint256 divisor) external pure returns (uint256) {
        return 1 / divisor;
    }

    /// Revert with empty data.
    function revertEmpty() external pure {
        revert();
    }

    /// A view that reverts, for eth_call.
    function viewReverts() external pure returns (uint256) {
        revert("view reverted");
    }

    /// Burns gas: `iterations` storage writes (cost grows linearly, for eth_estimateGas).
    function burn(uint256 iterations) external {
        uint256 acc = sink;
        for (uint256 i = 0; i < iterations; ++i) {
            acc = uint256(keccak256(abi.encode(acc, i)));
            sink = acc;
        }
    }

    /// Spends `work` gas-ish in an inner call that gets all but 1/64 of the remaining gas
    /// (EIP-150), then requires `reserve` gas left: the gas that makes the outer call succeed is
    /// more than gas used + reserve, which catches an estimateGas that only returns gas used.
    function needsGasLeft(uint256 work, uint256 reserve) external {
        this.burn(work);
        require(gasleft() > reserve, "not enough gas left");
    }
}
