"""The node's metrics (issue 21): ``GET /metrics`` in Prometheus' text format.

Owns ``NodeMetrics``: one ``prometheus_client`` registry per node (never the library's
global one, so two nodes in a process never mix), fed three ways:

- the sealed blocks (``Node.subscribe``): counters and histograms of blocks,
  transactions, gas and build time;
- the server (``observe_message``): each JSON-RPC message's calls by method and outcome
  and its latency; a method that is not registered is counted as ``other`` (a client
  cannot grow the label set);
- a sample of ``Node.runtime_stats`` on each scrape (pool, head, JIT, workers) and an
  event-loop lag probe (``run_loop_probe``), plus the library's process collector
  (resident memory, CPU seconds, open files).

Metric names (all prefixed ``hummingbird_``; counters end in ``_total`` in the text):

======================================  =========  ======================================
``blocks``                              counter    sealed blocks
``transactions{status}``                counter    mined transactions (success/reverted)
``block_transactions``                  histogram  transactions per block
``block_gas_used``                      histogram  gas used per block
``block_build_seconds``                 histogram  open to commit (execute, seal, commit)
``rpc_calls{method,outcome}``           counter    JSON-RPC calls (outcome ok or error)
``rpc_message_seconds{method}``         histogram  HTTP body / WebSocket message latency
                                                   (``batch`` for a batch)
``event_loop_lag_seconds``              histogram  how late a 100 ms timer fires
``head_block``                          gauge      head block number
``pool_transactions{state}``            gauge      pending / queued transactions
``jit_programs_compiled``               counter    contracts compiled
``jit_compile_seconds``                 counter    CPU time compiling
``jit_frames{engine}``                  counter    frames run compiled / interpreted
``jit_hit_ratio``                       gauge      compiled frames / all frames
``jit_native_regions``                  counter    regions put in machine code (native)
``jit_native_loaded``                   counter    contracts whose machine code came from
                                                   the machine-code cache (native)
``workers`` / ``workers_busy``          gauge      worker processes / with work in flight
``replica_lag_blocks``                  gauge      a replica's distance to its sequencer
``process_*``                           (library)  RSS, CPU seconds, file descriptors
======================================  =========  ======================================
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Container, Iterator, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from sequencer.node import RuntimeStats
from sequencer.publication import BlockSealed, ChainEvent

PREFIX: Final = "hummingbird"
OTHER_METHOD: Final = "other"
LOOP_PROBE_INTERVAL: Final = 0.1
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
BUILD_BUCKETS: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
LAG_BUCKETS: Final = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
TX_BUCKETS: Final = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
GAS_BUCKETS: Final = (21_000, 100_000, 1_000_000, 5_000_000, 15_000_000, 30_000_000, 60_000_000)


class _Sampled(Collector):
    """The gauges and counters read on each scrape."""

    def __init__(
        self, stats: Callable[[], RuntimeStats], replica_lag: Callable[[], int | None]
    ) -> None:
        self.stats = stats
        self.replica_lag = replica_lag

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        yield GaugeMetricFamily(f"{PREFIX}_head_block", "Head block number", value=stats.head)
        pool = GaugeMetricFamily(
            f"{PREFIX}_pool_transactions", "Transactions in the pool", labels=["state"]
        )
        pool.add_metric(["pending"], stats.pending)
        pool.add_metric(["queued"], stats.queued)
        yield pool
        engine = stats.engine
        yield CounterMetricFamily(
            f"{PREFIX}_jit_programs_compiled", "Contracts compiled by the JIT", engine.compiled
        )
        yield CounterMetricFamily(
            f"{PREFIX}_jit_compile_seconds", "CPU seconds spent compiling", engine.compile_seconds
        )
        frames = CounterMetricFamily(
            f"{PREFIX}_jit_frames", "Call frames run, by engine", labels=["engine"]
        )
        frames.add_metric(["compiled"], engine.compiled_runs)
        frames.add_metric(["interpreted"], engine.interpreted_runs)
        yield frames
        runs = engine.compiled_runs + engine.interpreted_runs
        yield GaugeMetricFamily(
            f"{PREFIX}_jit_hit_ratio",
            "Share of call frames run by compiled code",
            value=engine.compiled_runs / runs if runs else 0.0,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_jit_native_regions",
            "Regions put in machine code (--engine native)",
            engine.native_regions,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_jit_native_loaded",
            "Contracts whose machine code was loaded from the machine-code cache",
            engine.native_loaded,
        )
        yield GaugeMetricFamily(f"{PREFIX}_workers", "Worker processes", value=stats.workers)
        yield GaugeMetricFamily(
            f"{PREFIX}_workers_busy", "Worker processes with work in flight", stats.workers_busy
        )
        lag = self.replica_lag()
        if lag is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_replica_lag_blocks", "Blocks behind the sequencer", value=lag
            )


class NodeMetrics:
    """The metrics of one node; ``known_methods`` bounds the ``method`` label."""

    def __init__(
        self,
        stats: Callable[[], RuntimeStats],
        known_methods: Container[str],
        *,
        replica_lag: Callable[[], int | None] = lambda: None,
        process: bool = True,
    ) -> None:
        # No ``*_created`` series: a scrape is read by people and dashboards here, and
        # the start times add a line per counter (a process-wide switch of the library).
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.known_methods = known_methods
        r = self.registry
        self.blocks = Counter(f"{PREFIX}_blocks", "Sealed blocks", registry=r)
        self.transactions = Counter(
            f"{PREFIX}_transactions", "Mined transactions", ["status"], registry=r
        )
        self._mined_ok = self.transactions.labels("success")
        self._mined_failed = self.transactions.labels("reverted")
        self.block_transactions = Histogram(
            f"{PREFIX}_block_transactions", "Transactions per block", buckets=TX_BUCKETS, registry=r
        )
        self.block_gas = Histogram(
            f"{PREFIX}_block_gas_used", "Gas used per block", buckets=GAS_BUCKETS, registry=r
        )
        self.block_build = Histogram(
            f"{PREFIX}_block_build_seconds",
            "Seconds from opening a block to its commit",
            buckets=BUILD_BUCKETS,
            registry=r,
        )
        self.rpc_calls = Counter(
            f"{PREFIX}_rpc_calls", "JSON-RPC calls", ["method", "outcome"], registry=r
        )
        self.rpc_latency = Histogram(
            f"{PREFIX}_rpc_message_seconds",
            "Seconds to answer an HTTP body or WebSocket message",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.loop_lag = Histogram(
            f"{PREFIX}_event_loop_lag_seconds",
            f"How late a {LOOP_PROBE_INTERVAL * 1000:g} ms timer fires on the event loop",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        r.register(_Sampled(stats, replica_lag))
        if process:
            ProcessCollector(registry=r)

    # ------------------------------------------------------------ feeds

    def on_event(self, event: ChainEvent) -> None:
        """A ``Node.subscribe`` listener: count each sealed block."""
        if not isinstance(event, BlockSealed):
            return
        block = event.block
        receipts = block.receipts
        failed = sum(1 for receipt in receipts if receipt.status != 1)
        self.blocks.inc()
        if failed:
            self._mined_failed.inc(failed)
        if len(receipts) > failed:
            self._mined_ok.inc(len(receipts) - failed)
        self.block_transactions.observe(len(receipts))
        self.block_gas.observe(block.header.gas_used)
        if event.build_seconds:
            self.block_build.observe(event.build_seconds)

    def label(self, method: str) -> str:
        return method if method in self.known_methods else OTHER_METHOD

    def observe_message(
        self, methods: Sequence[str], codes: Sequence[int | None], batch: bool, seconds: float
    ) -> None:
        """One answered message: its calls (``codes[i]`` None: ok) and its latency."""
        for method, code in zip(methods, codes, strict=False):
            self.rpc_calls.labels(self.label(method), "ok" if code is None else "error").inc()
        name = "batch" if batch else self.label(methods[0]) if methods else OTHER_METHOD
        self.rpc_latency.labels(name).observe(seconds)

    async def run_loop_probe(self) -> None:
        """Observe, until cancelled, how late a short timer fires: the time other work
        keeps the event loop from answering."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LOOP_PROBE_INTERVAL)
            self.loop_lag.observe(max(0.0, time.perf_counter() - before - LOOP_PROBE_INTERVAL))

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
