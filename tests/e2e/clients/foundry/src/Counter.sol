// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.28;

contract Counter {
    uint256 public number; // slot 0
    address public lastCaller; // slot 1

    event Incremented(address indexed caller, uint256 number);

    constructor(uint256 initial) payable {
        number = initial;
    }

    function increment() external {
        number += 1;
        lastCaller = msg.sender;
        emit Incremented(msg.sender, number);
    }

    function setNumber(uint256 newNumber) external {
        number = newNumber;
        lastCaller = msg.sender;
    }

    function now_() external view returns (uint256) {
        return block.timestamp;
    }
}
