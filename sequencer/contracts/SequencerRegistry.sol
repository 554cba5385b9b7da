// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Hummingbird's stand-in for MegaETH's SequencerRegistry (Rex5, v1.0.0 interface), predeployed
/// at 0x6342000000000000000000000000000000000006 in two-tier and MegaETH modes.
///
/// Our own code, written from MegaETH's published spec (megaeth-labs/mega-evm,
/// docs/spec/system-contracts/sequencer-registry.md): the same storage layout (the node seeds
/// slots 0-2 and 4-6 without a constructor, as MegaETH's node does) and the same read functions,
/// so a client that verifies mini-block signatures against `sequencerAt(block)` works unchanged.
/// The admin's rotation functions are not here: the devnet has one sequencer key for its life.
contract SequencerRegistry {
    struct ChangeRecord {
        uint96 fromBlock;
        address addr;
    }

    address private _currentSystemAddress; // slot 0
    address private _currentSequencer; // slot 1
    address private _admin; // slot 2
    address private _pendingAdmin; // slot 3
    address private _initialSystemAddress; // slot 4
    address private _initialSequencer; // slot 5
    uint256 private _initialFromBlock; // slot 6
    address private _pendingSystemAddress; // slot 7
    uint256 private _systemAddressActivationBlock; // slot 8
    address private _pendingSequencer; // slot 9
    uint256 private _sequencerActivationBlock; // slot 10
    ChangeRecord[] private _systemAddressHistory; // slot 11
    ChangeRecord[] private _sequencerHistory; // slot 12

    error FutureBlock();
    error BeforeInitialBlock();

    function currentSequencer() external view returns (address) {
        return _currentSequencer;
    }

    function currentSystemAddress() external view returns (address) {
        return _currentSystemAddress;
    }

    function sequencerAt(uint256 blockNumber) external view returns (address) {
        return _at(_sequencerHistory, _initialSequencer, blockNumber);
    }

    function systemAddressAt(uint256 blockNumber) external view returns (address) {
        return _at(_systemAddressHistory, _initialSystemAddress, blockNumber);
    }

    function admin() external view returns (address) {
        return _admin;
    }

    function pendingAdmin() external view returns (address) {
        return _pendingAdmin;
    }

    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    function _at(ChangeRecord[] storage history, address initial, uint256 blockNumber)
        private
        view
        returns (address)
    {
        if (blockNumber > block.number) revert FutureBlock();
        if (blockNumber < _initialFromBlock) revert BeforeInitialBlock();
        for (uint256 i = history.length; i > 0; i--) {
            ChangeRecord storage record = history[i - 1];
            if (record.fromBlock <= blockNumber) return record.addr;
        }
        return initial;
    }
}
