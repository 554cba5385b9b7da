// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// scripts/evm_bench.py's ERC-20 workload: a standard balance/transfer/event token whose
/// `transferLoop` performs `n` transfers between `holders` addresses, each one the checked
/// `_transfer` of a production ERC-20 (balance check, two SSTOREs, a Transfer event).
contract BenchToken {
    uint160 public constant FIRST_HOLDER = 0x10000;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    /// Holder i's address.
    function holder(uint256 i) public pure returns (address) {
        return address(FIRST_HOLDER + uint160(i));
    }

    /// Mints `amount` to holders [from, to).
    function mint(uint256 from, uint256 to, uint256 amount) external {
        for (uint256 i = from; i < to; ++i) {
            address account = holder(i);
            balanceOf[account] += amount;
            emit Transfer(address(0), account, amount);
        }
        totalSupply += (to - from) * amount;
    }

    /// Transfer i moves (i % 97) + 1 from holder (7 i) % holders to holder (13 i + 5) % holders.
    /// Returns the total moved.
    function transferLoop(uint256 n, uint256 holders) external returns (uint256 moved) {
        for (uint256 i = 0; i < n; ++i) {
            uint256 value = (i % 97) + 1;
            _transfer(holder((i * 7) % holders), holder((i * 13 + 5) % holders), value);
            moved += value;
        }
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        require(balance >= value, "ERC20: transfer amount exceeds balance");
        unchecked {
            balanceOf[from] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
