// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.28;

import {Counter} from "../src/Counter.sol";

// The part of forge-std's Vm cheatcode interface this script uses (forge-std itself is not an
// npm package, so it is not a dependency here).
interface Vm {
    function envUint(string calldata name) external view returns (uint256);
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
}

// `forge script script/Counter.s.sol:CounterScript --rpc-url <node> --broadcast` with
// PRIVATE_KEY in the environment: deploys Counter(10), calls increment() twice and
// setNumber(100 + number()), i.e. ends with number == 112, all from PRIVATE_KEY's account.
contract CounterScript {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (Counter counter) {
        uint256 key = vm.envUint("PRIVATE_KEY");
        vm.startBroadcast(key);
        counter = new Counter(10);
        counter.increment();
        counter.increment();
        counter.setNumber(100 + counter.number());
        vm.stopBroadcast();
    }
}
