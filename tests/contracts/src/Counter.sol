// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A counter for the integration tests: storage writes, an event, a view.
contract Counter {
    uint256 public counter;

    event Incremented(address indexed by, uint256 value);

    function increment() external {
        uint256 value = counter + 1;
        counter = value;
        emit Incremented(msg.sender, value);
    }

    function set(uint256 value) external {
        counter = value;
    }
}
