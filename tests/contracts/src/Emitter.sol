// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Events of every shape, for eth_getLogs and receipt-log tests.
contract Emitter {
    event NoArgs();
    event Indexed(address indexed who, uint256 indexed id, bytes32 indexed tag);
    event Mixed(address indexed who, uint256 value, string note);
    event Unindexed(uint256 a, uint256 b);
    event Anon(address indexed who, uint256 value) anonymous;

    function emitAll(uint256 value, string calldata note) external {
        emit NoArgs();
        emit Indexed(msg.sender, value, keccak256(bytes(note)));
        emit Mixed(msg.sender, value, note);
        emit Unindexed(value, value + 1);
        emit Anon(msg.sender, value);
    }

    function emitIndexed(uint256 id, bytes32 tag) external {
        emit Indexed(msg.sender, id, tag);
    }

    function emitAnonymous(uint256 value) external {
        emit Anon(msg.sender, value);
    }

    /// `n` Unindexed events in one transaction.
    function emitMany(uint256 n) external {
        for (uint256 i = 0; i < n; ++i) {
            emit Unindexed(i, n);
        }
    }
}
