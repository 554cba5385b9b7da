// Every Hardhat 2 network helper (@nomicfoundation/hardhat-network-helpers) against the node
// under test, each followed by a check of what it changed: balances, nonces, code, storage,
// timestamps, block numbers, header fields, the sender a contract saw.
// Run on the `externalRemote` network (the node's own unlocked accounts), so an impersonated
// account can send through Hardhat's provider as well.
const helpers = require("@nomicfoundation/hardhat-network-helpers");
const { time, loadFixture } = helpers;
const { expect } = require("chai");

const STRANGER = "0x1234567890123456789012345678901234567890";
const WHALE = "0x00000000000000000000000000000000000f00d5";

async function latestBlock() {
  return ethers.provider.send("eth_getBlockByNumber", ["latest", false]);
}

// Whether the node accepts an eth_sendTransaction from `from` (it signs for its own accounts
// and for impersonated ones only).
async function sendsFrom(from) {
  try {
    await ethers.provider.send("eth_sendTransaction", [{ from, to: STRANGER, value: "0x1" }]);
    return true;
  } catch (error) {
    return false;
  }
}

function word(n) {
  return ethers.toBeHex(n, 32);
}

describe("network helpers", function () {
  async function deployProbeFixture() {
    const [owner, other] = await ethers.getSigners();
    const probe = await ethers.deployContract("Probe");
    await probe.waitForDeployment();
    return { probe, owner, other };
  }

  describe("loadFixture", function () {
    it("runs the fixture and lets a test change its state", async function () {
      const { probe, owner } = await loadFixture(deployProbeFixture);
      await (await probe.set(99)).wait();
      expect(await probe.value()).to.equal(99n);
      expect(await probe.lastSender()).to.equal(owner.address);
    });

    it("reverts to the fixture's state for the next test (same address, value back to 0)", async function () {
      const first = await loadFixture(deployProbeFixture);
      const again = await loadFixture(deployProbeFixture);
      expect(again.probe.target).to.equal(first.probe.target);
      expect(await again.probe.value()).to.equal(0n);
      expect(await ethers.provider.getCode(again.probe.target)).to.not.equal("0x");
    });
  });

  describe("time", function () {
    it("latest and latestBlock match the head block", async function () {
      const head = await latestBlock();
      expect(await time.latest()).to.equal(Number(head.timestamp));
      expect(await time.latestBlock()).to.equal(Number(head.number));
    });

    it("increase moves the next block's timestamp forward and mines it", async function () {
      const before = await time.latest();
      const blockBefore = await time.latestBlock();
      const returned = await time.increase(3600);
      expect(returned).to.equal(before + 3600);
      expect(await time.latest()).to.equal(before + 3600);
      expect(await time.latestBlock()).to.equal(blockBefore + 1);
    });

    it("increaseTo mines a block at the given timestamp", async function () {
      const target = (await time.latest()) + 86_400;
      await time.increaseTo(target);
      expect(await time.latest()).to.equal(target);
    });

    it("setNextBlockTimestamp applies to the next transaction's block", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      const target = (await time.latest()) + 1_000;
      await time.setNextBlockTimestamp(target);
      const receipt = await (await probe.record()).wait();
      const block = await ethers.provider.getBlock(receipt.blockNumber);
      expect(block.timestamp).to.equal(target);
      expect(await probe.seenTimestamp()).to.equal(BigInt(target));
    });

    it("duration helpers convert", function () {
      expect(time.duration.days(2)).to.equal(172_800);
      expect(time.duration.hours(1)).to.equal(3_600);
    });
  });

  describe("mining", function () {
    it("mine() mines one block", async function () {
      const before = await time.latestBlock();
      await helpers.mine();
      expect(await time.latestBlock()).to.equal(before + 1);
    });

    it("mine(count, { interval }) mines count blocks, interval seconds apart", async function () {
      const before = await time.latestBlock();
      await helpers.mine(5, { interval: 15 });
      expect(await time.latestBlock()).to.equal(before + 5);
      const first = await ethers.provider.getBlock(before + 1);
      const last = await ethers.provider.getBlock(before + 5);
      expect(last.timestamp - first.timestamp).to.equal(4 * 15);
    });

    it("mineUpTo mines up to the given block number", async function () {
      const target = (await time.latestBlock()) + 7;
      await helpers.mineUpTo(target);
      expect(await time.latestBlock()).to.equal(target);
    });
  });

  describe("accounts and state", function () {
    it("setBalance sets an account's balance", async function () {
      await helpers.setBalance(STRANGER, 123_456_789n);
      expect(await ethers.provider.getBalance(STRANGER)).to.equal(123_456_789n);
      await helpers.setBalance(STRANGER, ethers.parseEther("1000"));
      expect(await ethers.provider.getBalance(STRANGER)).to.equal(ethers.parseEther("1000"));
    });

    it("setNonce sets an account's nonce and the next transaction uses it", async function () {
      const [, , sender] = await ethers.getSigners();
      await helpers.setNonce(sender.address, 50);
      expect(await ethers.provider.getTransactionCount(sender.address)).to.equal(50);
      const tx = await sender.sendTransaction({ to: STRANGER, value: 1n });
      expect(tx.nonce).to.equal(50);
      await tx.wait();
      expect(await ethers.provider.getTransactionCount(sender.address)).to.equal(51);
    });

    it("setCode installs code that then runs against the target's own storage", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      const runtime = await ethers.provider.getCode(probe.target);
      const target = "0x000000000000000000000000000000000000c0de";
      await helpers.setCode(target, runtime);
      expect(await ethers.provider.getCode(target)).to.equal(runtime);
      const clone = probe.attach(target);
      expect(await clone.value()).to.equal(0n);
      await (await clone.set(5)).wait();
      expect(await clone.value()).to.equal(5n);
      expect(await probe.value()).to.equal(0n);
    });

    it("setStorageAt writes a slot that getStorageAt and the contract both read", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      await helpers.setStorageAt(probe.target, 0, 0xabcdefn);
      expect(await helpers.getStorageAt(probe.target, 0)).to.equal(word(0xabcdef));
      expect(await probe.value()).to.equal(0xabcdefn);
      await helpers.setStorageAt(probe.target, "0x1", word(BigInt(STRANGER)));
      expect((await probe.lastSender()).toLowerCase()).to.equal(STRANGER);
      expect(await helpers.getStorageAt(probe.target, 6)).to.equal(word(0));
    });
  });

  describe("impersonation", function () {
    it("impersonateAccount lets an arbitrary address send; stopImpersonatingAccount ends it", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      await helpers.setBalance(WHALE, ethers.parseEther("10"));
      const whale = await ethers.getSigner(WHALE);
      expect(await sendsFrom(WHALE), "a transaction from a locked account was accepted").to.equal(
        false
      );
      await helpers.impersonateAccount(WHALE);
      const receipt = await (await probe.connect(whale).set(7)).wait();
      expect(receipt.from.toLowerCase()).to.equal(WHALE);
      expect((await probe.lastSender()).toLowerCase()).to.equal(WHALE);
      expect(await probe.value()).to.equal(7n);

      await helpers.stopImpersonatingAccount(WHALE);
      expect(
        await sendsFrom(WHALE),
        "a transaction from a no longer impersonated account was accepted"
      ).to.equal(false);
    });
  });

  describe("block parameters", function () {
    it("setCoinbase sets the next blocks' miner and block.coinbase", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      const coinbase = "0x00000000000000000000000000000000000c01b5";
      await helpers.setCoinbase(coinbase);
      const receipt = await (await probe.record()).wait();
      const block = await ethers.provider.send("eth_getBlockByNumber", [
        ethers.toQuantity(receipt.blockNumber),
        false,
      ]);
      expect(block.miner.toLowerCase()).to.equal(coinbase);
      expect((await probe.seenCoinbase()).toLowerCase()).to.equal(coinbase);
    });

    it("setPrevRandao sets the next block's prevrandao (mixHash)", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      if (process.env.E2E_NODE === "anvil") {
        // anvil 1.7.1 does not serve hardhat_setPrevRandao (nor an anvil_ alias): -32601.
        // Checked, so the test notices if that changes.
        let error;
        try {
          await helpers.setPrevRandao(0x1234_5678n);
        } catch (e) {
          error = e;
        }
        expect(String(error)).to.match(/method not found/i);
        return;
      }
      await helpers.setPrevRandao(0x1234_5678n);
      const receipt = await (await probe.record()).wait();
      const block = await ethers.provider.send("eth_getBlockByNumber", [
        ethers.toQuantity(receipt.blockNumber),
        false,
      ]);
      expect(block.mixHash).to.equal(word(0x1234_5678));
      expect(await probe.seenPrevrandao()).to.equal(0x1234_5678n);
    });

    it("setBlockGasLimit sets the next blocks' gas limit", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      await helpers.setBlockGasLimit(25_000_000);
      const receipt = await (await probe.record()).wait();
      const block = await ethers.provider.getBlock(receipt.blockNumber);
      expect(block.gasLimit).to.equal(25_000_000n);
      expect(await probe.seenGaslimit()).to.equal(25_000_000n);
    });

    it("setNextBlockBaseFeePerGas sets the next block's base fee", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      const baseFee = 7_000_000_000n;
      await helpers.setNextBlockBaseFeePerGas(baseFee);
      const receipt = await (await probe.record({ maxFeePerGas: 20_000_000_000n })).wait();
      const block = await ethers.provider.getBlock(receipt.blockNumber);
      expect(block.baseFeePerGas).to.equal(baseFee);
      expect(await probe.seenBasefee()).to.equal(baseFee);
    });
  });

  describe("dropTransaction", function () {
    it("removes a pending transaction from the pool", async function () {
      const [, , , sender] = await ethers.getSigners();
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        const nonce = await ethers.provider.getTransactionCount(sender.address);
        const hash = await ethers.provider.send("eth_sendTransaction", [
          { from: sender.address, to: STRANGER, value: "0x2a" },
        ]);
        const pending = await ethers.provider.send("eth_getTransactionByHash", [hash]);
        expect(pending).to.not.equal(null);
        expect(pending.blockNumber).to.equal(null);
        await helpers.dropTransaction(hash);
        expect(await ethers.provider.send("eth_getTransactionByHash", [hash])).to.equal(null);
        await helpers.mine();
        expect(await ethers.provider.send("eth_getTransactionReceipt", [hash])).to.equal(null);
        expect(await ethers.provider.getTransactionCount(sender.address)).to.equal(nonce);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
    });
  });

  describe("takeSnapshot", function () {
    it("restore() returns to the snapshot, and can be used again", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      await (await probe.set(1)).wait();
      const blockAtSnapshot = await time.latestBlock();
      const snapshot = await helpers.takeSnapshot();

      await (await probe.set(2)).wait();
      await helpers.setBalance(STRANGER, 1n);
      await helpers.mine(3);
      await snapshot.restore();
      expect(await probe.value()).to.equal(1n);
      expect(await time.latestBlock()).to.equal(blockAtSnapshot);

      await (await probe.set(3)).wait();
      await snapshot.restore();
      expect(await probe.value()).to.equal(1n);
      expect(await time.latestBlock()).to.equal(blockAtSnapshot);
    });
  });

  describe("reset", function () {
    it("reset() goes back to a fresh chain (genesis, no deployed code)", async function () {
      const { probe } = await loadFixture(deployProbeFixture);
      expect(await time.latestBlock()).to.be.greaterThan(0);
      await helpers.reset();
      expect(await time.latestBlock()).to.equal(0);
      expect(await ethers.provider.getCode(probe.target)).to.equal("0x");
      const [owner] = await ethers.getSigners();
      expect(await ethers.provider.getBalance(owner.address)).to.equal(ethers.parseEther("10000"));
      expect(await ethers.provider.getTransactionCount(owner.address)).to.equal(0);
    });
  });
});
