// Keeps the node's dashboard open in headless Chromium until SIGTERM, then prints what the
// page saw as one JSON line (scripts/bench_wrk.py's hummingbird-w1-dashboard target):
//   node watch.mjs NODE_URL CHROMIUM
import puppeteer from "puppeteer-core";

const [nodeUrl, chromium] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  // SIGTERM is ours (report, then close): puppeteer must not close the browser first.
  handleSIGTERM: false,
  handleSIGINT: false,
  handleSIGHUP: false,
});
const page = await browser.newPage();
await page.setViewport({ width: 1400, height: 1000 });
await page.goto(nodeUrl + "/", { waitUntil: "load" });
await page.waitForFunction(() => window.__dashboard.subscription !== null, { timeout: 30000 });
console.error("dashboard open");

let stopping = false;
process.on("SIGTERM", async () => {
  if (stopping) return;
  stopping = true;
  const seen = await page.evaluate(() => {
    const latencies = [...window.__dashboard.latencies].sort((a, b) => a - b);
    const at = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null);
    return {
      seen: window.__dashboard.seen,
      shown: window.__dashboard.shown,
      skipped: window.__dashboard.skipped,
      head: window.__dashboard.head,
      latency_p50_ms: at(0.5),
      latency_p99_ms: at(0.99),
    };
  });
  console.log(JSON.stringify(seen));
  await browser.close();
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
