// Hardhat 2 as a peer node for scripts/bench_rpc.py: defaults (automine, chain id 31337,
// the `test ... junk` mnemonic's accounts with 10,000 ETH each).
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
    },
  },
};
