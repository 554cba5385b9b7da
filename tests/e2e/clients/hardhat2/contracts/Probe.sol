// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.28;

// Records who called it and the block environment it ran in, so the network-helper tests can
// check what a dev method changed from inside the EVM as well as from the block header.
contract Probe {
    uint256 public value; // slot 0
    address public lastSender; // slot 1
    address public seenCoinbase; // slot 2
    uint256 public seenPrevrandao; // slot 3
    uint256 public seenBasefee; // slot 4
    uint256 public seenGaslimit; // slot 5
    uint256 public seenTimestamp; // slot 6

    event Set(address indexed sender, uint256 value);

    function set(uint256 newValue) external {
        value = newValue;
        lastSender = msg.sender;
        emit Set(msg.sender, newValue);
    }

    function record() external {
        seenCoinbase = block.coinbase;
        seenPrevrandao = block.prevrandao;
        seenBasefee = block.basefee;
        seenGaslimit = block.gaslimit;
        seenTimestamp = block.timestamp;
    }
}
