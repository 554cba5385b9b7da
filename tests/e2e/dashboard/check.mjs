// Opens the node's dashboard in headless Chromium (puppeteer-core, Debian's chromium) and
// reports, as one JSON line on stdout, what a user would see:
//   node check.mjs NODE_URL CHROMIUM SCREENSHOT_PATH
// 1. the page loads and its WebSocket goes live;
// 2. a transfer is sent (eth_sendTransaction from dev account 0); the page must show its
//    block, and the delay from the block's seal (mini_block_timestamp) to the frame that drew
//    it is reported;
// 3. a burst of transfers runs while the page is open (sampling, counts);
// 4. a contract is deployed and its transaction page is opened: call tree and state diff;
// 5. the block page of the first transfer: its state diff;
// 6. a screenshot of the live view, and the bounding boxes of its parts.
import puppeteer from "puppeteer-core";

const [nodeUrl, chromium, screenshotPath] = process.argv.slice(2);
const DEV0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const DEV1 = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
// Initcode returning a one-byte runtime (STOP).
const INITCODE = "0x6001600c60003960016000f300";

async function rpc(method, params) {
  const response = await fetch(nodeUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

const report = {};
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(nodeUrl + "/", { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("connection").textContent === "live", { timeout: 15000 });
  await page.waitForFunction(() => window.__dashboard.subscription !== null, { timeout: 15000 });
  report.title = await page.title();

  // 2. One transfer: its block on screen, and how long after the seal.
  const hash = await rpc("eth_sendTransaction", [{ from: DEV0, to: DEV1, value: "0x1" }]);
  const receipt = await rpc("eth_getTransactionReceipt", [hash]);
  const block = parseInt(receipt.blockNumber, 16);
  await page.waitForFunction((n) => window.__dashboard.renderedAt[n] !== undefined || window.__dashboard.head >= n, { timeout: 15000 }, block);
  await page.waitForSelector(`#blocks tr[data-block="${block}"]`, { timeout: 15000 }).catch(() => null);
  report.firstBlock = block;
  report.firstBlockShown = await page.$(`#blocks tr[data-block="${block}"]`) !== null;
  report.transactionListed = await page.evaluate((h) => window.__dashboard.transactions.some((t) => t.hash === h), hash);

  // 3. A burst while the page watches.
  const burst = [];
  for (let i = 0; i < 60; i++) burst.push(rpc("eth_sendTransaction", [{ from: DEV0, to: DEV1, value: "0x1" }]));
  await Promise.all(burst);
  const head = parseInt(await rpc("eth_blockNumber", []), 16);
  await page.waitForFunction((n) => window.__dashboard.head >= n, { timeout: 15000 }, head);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // a stats tick and an accounts refresh
  const seen = await page.evaluate(() => ({
    seen: window.__dashboard.seen,
    shown: window.__dashboard.shown,
    skipped: window.__dashboard.skipped,
    latencies: window.__dashboard.latencies,
    head: window.__dashboard.head,
    accounts: document.querySelectorAll("#accounts tbody tr").length,
    transactions: document.querySelectorAll("#transactions tbody tr").length,
    txPerSecondChart: window.__dashboard.tps.y.length,
  }));
  Object.assign(report, seen);
  report.chainHead = head;

  // 6. Screenshot of the live view and where its parts are.
  await page.screenshot({ path: screenshotPath });
  report.boxes = {};
  for (const id of ["head", "blocks", "transactions", "accounts", "contracts", "chart-tps", "chart-latency"]) {
    const box = await (await page.$("#" + id)).boundingBox();
    report.boxes[id] = box && [Math.round(box.x), Math.round(box.y), Math.round(box.width), Math.round(box.height)];
  }
  report.texts = await page.evaluate(() => ({
    head: document.getElementById("head").textContent,
    latency: document.getElementById("latency").textContent,
    chain: document.getElementById("chain").textContent,
  }));

  // 4. A deployment: listed among contracts; its transaction page.
  const deploy = await rpc("eth_sendTransaction", [{ from: DEV0, data: INITCODE }]);
  const deployed = (await rpc("eth_getTransactionReceipt", [deploy])).contractAddress;
  await page.waitForFunction((a) => window.__dashboard.contracts.some((c) => c.address === a), { timeout: 15000 }, deployed);
  report.contractListed = true;
  await page.goto(`${nodeUrl}/#/tx/${hash}`, { waitUntil: "load" });
  await page.waitForSelector("#call-tree div", { timeout: 15000 });
  report.txPage = await page.evaluate(() => ({
    tree: document.getElementById("call-tree").textContent,
    diff: document.getElementById("state-diff").textContent,
  }));

  // 5. The first transfer's block page.
  await page.evaluate((n) => { location.hash = `#/block/${n}`; }, block);
  await page.waitForFunction(() => document.querySelector("#state-diff table") !== null, { timeout: 15000 });
  report.blockPage = await page.evaluate(() => document.getElementById("state-diff").textContent);
  report.errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
