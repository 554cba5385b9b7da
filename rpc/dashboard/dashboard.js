// Hummingbird's dashboard (issue 21), served by the node at GET / to a browser.
//
// Everything comes from the node's own JSON-RPC over one WebSocket on the page's origin:
// the live stream is the node's `blockStats` subscription (rpc/namespaces/block_stats.py:
// here at most 10 notifications a second, each covering every block sealed since the last one:
// counts, gas, build time, the newest block with its seal time, the newest transactions),
// so neither the node nor the page does work per block when blocks outrun the screen; the
// head and counters follow every notification, the tables are redrawn at most 4 times a
// second, and the blocks table shows the newest block of each notification and says how
// many others it covered ("sampled"). The detail pages use eth_ and debug_ methods (callTracer,
// prestateTracer in diffMode). window.__dashboard exposes what the page saw for the
// browser test and the benchmark.
"use strict";

const MAX_ROWS = 25;
// Tables are rebuilt at most this often: re-laying out and painting them is most of what
// the page costs the machine (a 2-core devnet shares it with the node), while the head,
// counters and the seal-to-screen figure follow every update.
const TABLE_INTERVAL_MS = 250;
const WINDOW_MS = 1000;
const CHART_POINTS = 120;

const state = {
  socket: null,
  nextId: 1,
  pending: new Map(),
  subscription: null,
  queue: [],
  arrivals: [], // [time ms, blocks, txs, gas]
  buildSeconds: 0,
  builtBlocks: 0,
  blocks: [],
  transactions: [],
  contracts: [],
  accounts: [],
  seen: 0,
  shown: 0,
  skipped: 0,
  head: null,
  latencies: [],
  renderedAt: {},
  tps: { x: [], y: [] },
  latencySeries: { x: [], y: [] },
  frameRequested: false,
  tablesDrawnAt: 0,
};
window.__dashboard = state;

const $ = (id) => document.getElementById(id);
const hexToInt = (hex) => (hex == null ? 0 : parseInt(hex, 16));
const short = (hex) => (hex ? hex.slice(0, 10) + "\u2026" + hex.slice(-6) : "-");
const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const link = (kind, value, text) => `<a href="#/${kind}/${escapeHtml(value)}" class="mono">${escapeHtml(text ?? short(value))}</a>`;
const ether = (wei) => {
  const value = BigInt(wei);
  const whole = value / 10n ** 18n;
  const fraction = (value % 10n ** 18n).toString().padStart(18, "0").slice(0, 4);
  return `${whole}.${fraction}`;
};

// ------------------------------------------------------------------ JSON-RPC over WebSocket

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/`);
  state.socket = socket;
  socket.onopen = async () => {
    $("connection").textContent = "live";
    $("connection").className = "pill live";
    const [chainId, version] = await Promise.all([call("eth_chainId"), call("web3_clientVersion")]);
    $("chain").textContent = `chain ${hexToInt(chainId)} \u00b7 ${version}`;
    state.subscription = await call("eth_subscribe", ["blockStats", { maxRate: 10 }]);
    refreshAccounts();
  };
  socket.onmessage = (message) => {
    const answer = JSON.parse(message.data);
    if (answer.method === "eth_subscription") {
      if (answer.params.subscription === state.subscription) onStats(answer.params.result);
      return;
    }
    const waiting = state.pending.get(answer.id);
    if (!waiting) return;
    state.pending.delete(answer.id);
    if (answer.error) waiting.reject(new Error(answer.error.message));
    else waiting.resolve(answer.result);
  };
  socket.onclose = () => {
    $("connection").textContent = "disconnected: retrying";
    $("connection").className = "pill down";
    for (const waiting of state.pending.values()) waiting.reject(new Error("disconnected"));
    state.pending.clear();
    setTimeout(connect, 1000);
  };
}

function call(method, params = []) {
  return new Promise((resolve, reject) => {
    const id = state.nextId++;
    state.pending.set(id, { resolve, reject });
    state.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  });
}

// ------------------------------------------------------------------ the live stream

function onStats(stats) {
  const now = Date.now();
  const head = stats.head;
  const number = hexToInt(head.number);
  state.seen += stats.blocks;
  state.head = number;
  state.arrivals.push([now, stats.blocks, stats.transactions, hexToInt(stats.gasUsed)]);
  state.buildSeconds += stats.buildSeconds;
  state.builtBlocks += stats.blocks;
  for (const tx of stats.recent) {
    state.transactions.unshift({
      hash: tx.hash, from: tx.from, to: tx.to, block: hexToInt(tx.block),
      status: tx.status, logs: tx.logs,
    });
    if (tx.contractAddress) {
      state.contracts.unshift({ address: tx.contractAddress, block: hexToInt(tx.block), creator: tx.from });
    }
  }
  state.transactions.length = Math.min(state.transactions.length, MAX_ROWS);
  state.contracts.length = Math.min(state.contracts.length, MAX_ROWS);
  state.queue.push({
    number, covered: stats.blocks, txs: head.transactions, gas: hexToInt(head.gasUsed),
    sealedMicros: head.sealedMicros ?? hexToInt(head.timestamp) * 1e6,
  });
  if (!state.frameRequested) {
    state.frameRequested = true;
    requestAnimationFrame(render);
  }
}

function render() {
  state.frameRequested = false;
  const now = Date.now();
  const batch = state.queue.splice(0);
  if (batch.length) {
    const newest = batch[batch.length - 1];
    state.skipped += batch.reduce((sum, b) => sum + b.covered, 0) - 1;
    state.shown += 1;
    state.blocks.unshift(newest);
    state.blocks.length = Math.min(state.blocks.length, MAX_ROWS);
    const latency = now - newest.sealedMicros / 1000;
    state.latencies.push(latency);
    state.renderedAt[newest.number] = now;
    state.latencySeries.x.push(now / 1000);
    state.latencySeries.y.push(latency);
    trim(state.latencySeries);
    $("latency").textContent = `${latency.toFixed(1)} ms`;
  }
  while (state.arrivals.length && state.arrivals[0][0] < now - WINDOW_MS) state.arrivals.shift();
  const perSecond = state.arrivals.reduce((sum, [, blocks, txs, gas]) => [sum[0] + blocks, sum[1] + txs, sum[2] + gas], [0, 0, 0]);
  $("head").textContent = state.head ?? "-";
  $("blocks-per-second").textContent = perSecond[0];
  $("tx-per-second").textContent = perSecond[1];
  $("gas-per-second").textContent = perSecond[2].toLocaleString();
  if (now - state.tablesDrawnAt < TABLE_INTERVAL_MS) {
    if (!state.tablesPending) {
      state.tablesPending = true;
      setTimeout(() => { state.tablesPending = false; requestAnimationFrame(render); }, TABLE_INTERVAL_MS);
    }
    return;
  }
  state.tablesDrawnAt = now;
  $("sampling").textContent = state.skipped ? `(sampled: ${state.seen - state.skipped} of ${state.seen} blocks drawn, the newest of each update)` : "";
  $("blocks").tBodies[0].innerHTML = state.blocks
    .map((b) => `<tr data-block="${b.number}"><td>${link("block", b.number, String(b.number))}</td><td>${b.txs}</td><td>${b.gas.toLocaleString()}</td><td>${new Date(b.sealedMicros / 1000).toISOString().slice(11, 23)}</td></tr>`)
    .join("");
  $("transactions").tBodies[0].innerHTML = state.transactions
    .map((t) => `<tr><td>${link("tx", t.hash)}</td><td class="mono">${short(t.from)}</td><td class="mono">${t.to ? short(t.to) : "create"}</td><td class="${t.status === "0x1" ? "ok" : "failed"}">${t.status === "0x1" ? "success" : "reverted"}</td><td>${t.logs}</td></tr>`)
    .join("");
  $("contracts").tBodies[0].innerHTML = state.contracts
    .map((c) => `<tr><td class="mono">${escapeHtml(c.address)}</td><td>${link("block", c.block, String(c.block))}</td><td class="mono">${short(c.creator)}</td></tr>`)
    .join("");
}

function trim(series) {
  while (series.x.length > CHART_POINTS) {
    series.x.shift();
    series.y.shift();
  }
}

// Once a second: the tx/s chart and the mean build time of the last second's blocks.
function everySecond() {
  const now = Date.now();
  const txs = state.arrivals.reduce((sum, [, , n]) => sum + n, 0);
  state.tps.x.push(now / 1000);
  state.tps.y.push(txs);
  trim(state.tps);
  charts.tps?.setData([state.tps.x, state.tps.y]);
  charts.latency?.setData([state.latencySeries.x, state.latencySeries.y]);
  if (state.builtBlocks) {
    $("build-time").textContent = `${((state.buildSeconds / state.builtBlocks) * 1000).toFixed(2)} ms`;
    state.buildSeconds = 0;
    state.builtBlocks = 0;
  }
}

async function refreshAccounts() {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return;
  try {
    const addresses = (await call("eth_accounts")).slice(0, 20);
    const rows = await Promise.all(
      addresses.map(async (address) => {
        const [balance, nonce] = await Promise.all([
          call("eth_getBalance", [address, "latest"]),
          call("eth_getTransactionCount", [address, "latest"]),
        ]);
        return `<tr><td class="mono">${escapeHtml(address)}</td><td>${ether(balance)}</td><td>${hexToInt(nonce)}</td></tr>`;
      }),
    );
    $("accounts").tBodies[0].innerHTML = rows.join("");
  } catch (error) {
    /* the next refresh tries again */
  }
}

// ------------------------------------------------------------------ detail pages

function diffRows(pre, post) {
  const rows = [];
  const addresses = new Set([...Object.keys(pre || {}), ...Object.keys(post || {})]);
  for (const address of addresses) {
    const before = (pre || {})[address] || {};
    const after = (post || {})[address] || {};
    for (const field of ["balance", "nonce", "code"]) {
      if (field in after && after[field] !== before[field]) {
        const shown = (v) => (v === undefined ? "-" : field === "balance" ? ether(v) : field === "code" ? `${(v.length - 2) / 2} bytes` : String(v));
        rows.push([address, field, shown(before[field]), shown(after[field])]);
      }
    }
    const slots = new Set([...Object.keys(before.storage || {}), ...Object.keys(after.storage || {})]);
    for (const slot of slots) {
      const was = (before.storage || {})[slot];
      const now = (after.storage || {})[slot];
      if (was !== now) rows.push([address, `slot ${short(slot)}`, was ? short(was) : "0", now ? short(now) : "0"]);
    }
  }
  if (!rows.length) return "<p>No state changed.</p>";
  return `<table class="diff"><thead><tr><th>Account</th><th>Field</th><th>Before</th><th>After</th></tr></thead><tbody>${rows
    .map((r) => `<tr><td class="mono">${escapeHtml(r[0])}</td><td>${escapeHtml(r[1])}</td><td>${escapeHtml(r[2])}</td><td class="changed">${escapeHtml(r[3])}</td></tr>`)
    .join("")}</tbody></table>`;
}

function callTree(frame) {
  const value = frame.value && frame.value !== "0x0" ? ` value ${ether(frame.value)} ETH` : "";
  const error = frame.error ? ` <span class="failed">${escapeHtml(frame.error)}</span>` : "";
  const inner = (frame.calls || []).map(callTree).join("");
  return `<div><span>${escapeHtml(frame.type)}</span> <span class="mono">${short(frame.to)}</span>${value} gas ${hexToInt(frame.gasUsed)}${error}${inner}</div>`;
}

async function showTransaction(hash) {
  const detail = $("detail");
  detail.innerHTML = `<h2>Transaction ${escapeHtml(hash)}</h2><p>loading\u2026</p>`;
  const [tx, receipt] = await Promise.all([call("eth_getTransactionByHash", [hash]), call("eth_getTransactionReceipt", [hash])]);
  if (!tx || !receipt) {
    detail.innerHTML = `<h2>Transaction ${escapeHtml(hash)}</h2><p>Not found.</p>`;
    return;
  }
  const [tree, diff] = await Promise.all([
    call("debug_traceTransaction", [hash, { tracer: "callTracer" }]).catch((e) => ({ error: e.message })),
    call("debug_traceTransaction", [hash, { tracer: "prestateTracer", tracerConfig: { diffMode: true } }]).catch(() => null),
  ]);
  const logs = receipt.logs
    .map((log) => `<tr><td class="mono">${short(log.address)}</td><td class="mono">${log.topics.map(short).join(" ")}</td><td class="mono">${short(log.data)}</td></tr>`)
    .join("");
  detail.innerHTML = `
    <h2>Transaction <span class="mono">${escapeHtml(hash)}</span></h2>
    <div class="kv">
      <span>Status</span><span class="${receipt.status === "0x1" ? "ok" : "failed"}">${receipt.status === "0x1" ? "success" : "reverted"}</span>
      <span>Block</span><span>${link("block", hexToInt(receipt.blockNumber), String(hexToInt(receipt.blockNumber)))}</span>
      <span>From</span><span class="mono">${escapeHtml(tx.from)}</span>
      <span>To</span><span class="mono">${escapeHtml(tx.to || "(create) " + (receipt.contractAddress || ""))}</span>
      <span>Value</span><span>${ether(tx.value)} ETH</span>
      <span>Gas used</span><span>${hexToInt(receipt.gasUsed)}</span>
    </div>
    <h2>Call tree</h2><div class="tree" id="call-tree">${tree.error ? escapeHtml(tree.error) : callTree(tree)}</div>
    <h2>Logs</h2><table><tbody>${logs || "<tr><td>none</td></tr>"}</tbody></table>
    <h2>State diff</h2><div id="state-diff">${diff ? diffRows(diff.pre, diff.post) : "<p>unavailable</p>"}</div>`;
}

async function showBlock(number) {
  const detail = $("detail");
  const tag = "0x" + Number(number).toString(16);
  detail.innerHTML = `<h2>Block ${escapeHtml(number)}</h2><p>loading\u2026</p>`;
  const block = await call("eth_getBlockByNumber", [tag, true]);
  if (!block) {
    detail.innerHTML = `<h2>Block ${escapeHtml(number)}</h2><p>Not found.</p>`;
    return;
  }
  const traces = await call("debug_traceBlockByNumber", [tag, { tracer: "prestateTracer", tracerConfig: { diffMode: true } }]).catch(() => []);
  const diffs = traces.map((t, i) => `<h3 class="mono">${link("tx", block.transactions[i].hash)}</h3>${diffRows(t.result.pre, t.result.post)}`).join("");
  detail.innerHTML = `
    <h2>Block ${hexToInt(block.number)}</h2>
    <div class="kv">
      <span>Hash</span><span class="mono">${escapeHtml(block.hash)}</span>
      <span>Time</span><span>${new Date(hexToInt(block.timestamp) * 1000).toISOString()}</span>
      <span>Transactions</span><span>${block.transactions.length}</span>
      <span>Gas used</span><span>${hexToInt(block.gasUsed).toLocaleString()}</span>
    </div>
    <h2>State diff</h2><div id="state-diff">${diffs || "<p>No transactions.</p>"}</div>`;
}

function route() {
  const [, kind, value] = location.hash.split("/");
  const live = !kind;
  $("live").hidden = !live;
  $("detail").hidden = live;
  if (kind === "tx") showTransaction(value).catch((e) => ($("detail").textContent = e.message));
  else if (kind === "block") showBlock(value).catch((e) => ($("detail").textContent = e.message));
}

// ------------------------------------------------------------------ start

const charts = {};
function makeChart(id, label, color) {
  const element = $(id);
  const width = Math.max(300, element.clientWidth || 500);
  return new uPlot(
    { width, height: 160, legend: { show: false }, series: [{}, { label, stroke: color, width: 1.5 }], axes: [{ stroke: "#7c8a97" }, { stroke: "#7c8a97" }] },
    [[], []],
    element,
  );
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  if (typeof uPlot !== "undefined") {
    charts.tps = makeChart("chart-tps", "tx/s", "#4fc3a1");
    charts.latency = makeChart("chart-latency", "ms", "#8ab4f8");
  }
  connect();
  route();
  setInterval(everySecond, 1000);
  setInterval(refreshAccounts, 2000);
});
