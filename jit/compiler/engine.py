"""``Engine``: the one switch between the interpreter and compiled code, and
the compiled-code cache.

Modes (``--engine``):

- ``interpreter``: every frame is interpreted (``runner`` is None).
- ``jit``: a code is compiled the first time it runs, synchronously.
- ``auto``: a code is interpreted until it has run ``hot_threshold`` times,
  then compiled: on a worker thread when ``background`` is set (the node:
  compiling stays off the critical path of a mini-block, and the interpreter
  keeps running the code until its program is installed), else at once. In the
  background, and when llvmlite is installed, it then goes on to machine code as
  ``native`` does (below); ``native_profile_runs=0`` stops it at the Python JIT.
- ``native``: as ``jit``, then machine code through LLVM (``jit/native/``, issue
  22) for the regions worth it, each replacing the region's Python function. Without
  ``background`` (tests, the conformance runner) every covered region worth a
  crossing by the bytecode alone, at once, with the program. With it (the node) the
  tiers follow hotness: the Python JIT's program first, its first
  ``native_profile_runs`` runs (``NATIVE_HOT_RUNS``) profiled (``jit.compiler.profile``:
  how often each region ran and from where), then machine code for the regions the
  profile says pay for their crossings and their compile (``jit.native.selection``),
  built on the worker thread with LLVM in a child process (``backend.Compiler``: an
  LLVM abort fails that build, not the node) or loaded from the machine-code cache
  (``native_cache_dir``: ``jit.native.cache``), and installed by the executing thread
  between runs. Needs the optional llvmlite (``pip install 'hummingbird[native]'``);
  without it the Engine refuses the mode with a message saying so.

The cache is keyed by (code, fork, MegaETH or not): the code bytes themselves,
whose hash Python caches on the bytes object, so a lookup costs no keccak and
equality is exact; MegaETH's rules have their own handlers (LOG), so a program
compiled under one set of rules never runs under the other. It holds at most
``max_entries`` programs and ``max_code_bytes`` of compiled bytecode, evicting
the oldest first. A code the compiler rejects or fails on is logged once and
remembered, and is interpreted from then on.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from jit.compiler.codegen import Translation
from jit.compiler.loader import CompileClock, Program, load_eager, load_lazy, unload
from jit.compiler.profile import RegionProfile, Transitions, profile_from
from jit.evm.frame import Evm
from jit.evm.message import execute_code
from jit.evm.state import CodeRunner
from jit.forks import Fork, ForkRules
from statedb.types import keccak256

ENGINE_MODES = ("interpreter", "jit", "auto", "native")
DEFAULT_HOT_THRESHOLD = 2
NATIVE_HOT_RUNS = 16  # runs of a program before its machine code is built (native, background)
MAX_HOT_THRESHOLD = 1_000_000_000
DEFAULT_MAX_ENTRIES = 2048
DEFAULT_MAX_CODE_BYTES = 64 * 1024 * 1024
_PADDING = b"\x00" * 33
_COUNTS_LIMIT = 100_000
_PROFILES_LIMIT = 256  # native profiles in progress at once

logger = logging.getLogger("hummingbird.jit")

CacheKey = tuple[bytes, Fork, bool]  # (code, fork, ForkRules.megaeth)


@dataclass(frozen=True, slots=True)
class EngineStats:
    mode: str
    compiled: int  # programs built
    failed: int  # codes the compiler rejected or failed on
    cached: int  # programs in the cache now
    compile_seconds: float  # CPU time spent compiling
    compiled_runs: int  # frames run by compiled code
    interpreted_runs: int  # frames run by the interpreter
    native_regions: int = 0  # regions compiled to machine code (mode native)
    native_loaded: int = 0  # contracts whose machine code came from the cache (mode native)


def _take_finished(pending: dict[CacheKey, Future[Any]]) -> list[tuple[CacheKey, Future[Any]]]:
    """Remove the finished futures from ``pending`` and return them."""
    done = [(key, future) for key, future in pending.items() if future.done()]
    for key, _ in done:
        del pending[key]
    return done


def _build_native(
    code: bytes, rules: ForkRules, profile: RegionProfile, cache: Any, compiler: Any
) -> Any:
    """The worker's part of the native tier: machine code for ``code`` (``NativeBuild``)
    where its runs' ``profile`` says it pays, or as ``cache`` (a ``MachineCodeCache``,
    or None) holds it; LLVM in ``compiler``'s child process."""
    from jit.native.program import build  # llvmlite is optional: imported on use

    return build(Translation(code, rules), profile=profile, cache=cache, compiler=compiler)


def _llvm_here() -> bool:
    from jit.native import unavailable_reason

    return unavailable_reason() is None


def compile_program(
    code: bytes,
    rules: ForkRules,
    *,
    lazy: bool = False,
    clock: CompileClock | None = None,
    native: bool = False,
    native_every_region: bool = False,
) -> Program:
    """Compile ``code`` for ``rules``' fork: every region now, or (``lazy``)
    each region when execution first enters it, its CPU time added to ``clock``;
    with ``native``, the covered regions to machine code as well (its CPU time
    added to ``clock`` too, its regions counted in ``clock.native_regions``)."""
    translation = Translation(code, rules)
    filename = f"<jit {keccak256(code).hex()[:16]} {rules.name}>"
    if lazy:
        program = load_lazy(translation, filename, clock if clock is not None else CompileClock())
    else:
        program = load_eager(translation, filename)
    if native:
        from jit.native.program import attach  # llvmlite is optional: imported on use

        stats = attach(program, translation, every_region=native_every_region)
        if clock is not None:
            clock.seconds += stats.compile_seconds
            clock.native_regions += stats.regions
    return program


class Engine:
    def __init__(
        self,
        mode: str = "auto",
        *,
        hot_threshold: int = DEFAULT_HOT_THRESHOLD,
        background: bool = False,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_code_bytes: int = DEFAULT_MAX_CODE_BYTES,
        native_every_region: bool = False,
        native_profile_runs: int = NATIVE_HOT_RUNS,
        native_cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """``native_every_region`` (mode native): compile every covered region, even
        those whose crossings from Python cost more than they save (differential tests).
        ``native_profile_runs`` (modes native and auto, in the background): the runs of a
        program profiled before its machine code is built; 0: ``auto`` builds none (mode
        native needs at least one). ``native_cache_dir`` (in the background): the directory
        of a ``jit.native.cache.MachineCodeCache`` shared with other processes and later
        starts, or None (machine code is not kept)."""
        if mode not in ENGINE_MODES:
            raise ValueError(f"unknown engine {mode!r}; expected one of {', '.join(ENGINE_MODES)}")
        if mode == "native":
            from jit.native import unavailable_reason

            reason = unavailable_reason()
            if reason is not None:
                raise ValueError(reason)
        if (
            isinstance(hot_threshold, bool)
            or not isinstance(hot_threshold, int)
            or not 0 <= hot_threshold <= MAX_HOT_THRESHOLD
        ):
            raise ValueError(f"hot threshold must be an integer in 0..{MAX_HOT_THRESHOLD}")
        if (
            isinstance(native_profile_runs, bool)
            or not isinstance(native_profile_runs, int)
            or not 0 <= native_profile_runs <= MAX_HOT_THRESHOLD
        ):
            raise ValueError(f"native profile runs must be an integer in 0..{MAX_HOT_THRESHOLD}")
        if mode == "native" and native_profile_runs == 0:
            raise ValueError("the native engine profiles at least one run before machine code")
        if max_entries < 1 or max_code_bytes < 1:
            raise ValueError("the compiled-code cache needs room for at least one program")
        self.mode = mode
        self.hot_threshold = 0 if mode in ("jit", "native") else hot_threshold
        self._native = mode == "native"
        self._native_every_region = native_every_region
        self.max_entries = max_entries
        self.max_code_bytes = max_code_bytes
        self._programs: OrderedDict[CacheKey, Program] = OrderedDict()
        self._code_bytes = 0
        self._counts: dict[CacheKey, int] = {}
        self._failed: set[CacheKey] = set()
        self._pending: dict[CacheKey, Future[Program]] = {}
        self._worker = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="jit-compile")
            if background and mode in ("auto", "native")
            else None
        )
        # In the background, mode native, and mode auto when llvmlite is there: profiled
        # runs left before a program's machine code is built, their profiles, and the
        # builds under way (LLVM in a child process: an abort there fails one build).
        self._native_tiering = background and (
            mode == "native" or (mode == "auto" and native_profile_runs > 0 and _llvm_here())
        )
        self._native_profile_runs = native_profile_runs
        # Made at the first build: importing llvmlite would cost every start ~0.1 s.
        self._native_cache_dir = native_cache_dir
        self._native_cache: Any = None
        self._native_compiler: Any = None
        self._native_loaded = 0  # builds the cache held
        self._native_countdown: dict[CacheKey, int] = {}
        self._native_profiles: dict[CacheKey, Transitions] = {}
        self._native_pending: dict[CacheKey, Future[Any]] = {}
        self._compiled = 0
        self._compile_seconds = 0.0
        self._clock = CompileClock()  # lazily compiled regions
        self._compiled_runs = 0
        self._interpreted_runs = 0

    @property
    def runner(self) -> CodeRunner | None:
        """What ``execute_transaction(engine=...)`` takes; None interprets."""
        return None if self.mode == "interpreter" else self.run

    # ------------------------------------------------------------------ running

    def run(self, evm: Evm) -> None:
        code = evm.msg.code
        rules = evm.rules
        key = (code, rules.fork, rules.megaeth)
        program = self._programs.get(key)
        if program is None:
            program = self._miss(key, rules)
            if program is None:
                self._interpreted_runs += 1
                execute_code(evm)
                return
        self._compiled_runs += 1
        evm.code = code + _PADDING
        evm.jumpdests = program.jumpdests
        transitions = self._native_tier(key, program) if self._native_tiering else None
        if transitions is None:
            program.run(evm)
            return
        try:
            program.run_profiled(evm, transitions)
        finally:
            if self._native_countdown.get(key) == 0:  # the last profiled run: build
                self._submit_native(key, rules)

    def _miss(self, key: CacheKey, rules: ForkRules) -> Program | None:
        """The program for ``key`` if it is (now) ready, else None: interpret."""
        if key in self._failed:
            return None
        if self._pending:
            self._install_finished()
            program = self._programs.get(key)
            if program is not None or key in self._pending:
                return program
        count = self._counts.get(key, 0) + 1
        if count <= self.hot_threshold:
            if len(self._counts) >= _COUNTS_LIMIT:
                self._counts.clear()
            self._counts[key] = count
            return None
        self._counts.pop(key, None)
        if self._worker is not None and self.mode == "auto":
            self._pending[key] = self._worker.submit(compile_program, key[0], rules)
            return None
        try:
            program = compile_program(
                key[0],
                rules,
                lazy=True,
                clock=self._clock,
                native=self._native and not self._native_tiering,
                native_every_region=self._native_every_region,
            )
        except Exception as error:  # any compiler failure means: interpret
            self._fail(key, error)
            return None
        self._install(key, program)
        return program

    def _native_tier(self, key: CacheKey, program: Program) -> Transitions | None:
        """Machine code in the background: install finished builds; for a program without
        machine code yet, count the run and return the profile to record it into."""
        if self._native_pending:
            self._install_native_finished()
        left = self._native_countdown.get(key)
        if left is None:  # new here, or forgotten when the counts were cleared
            left = -1 if "__native__" in program.namespace else self._native_profile_runs
            if left < 0:
                self._native_countdown[key] = left
        if left <= 0:  # profiled, built or building
            return None
        if len(self._native_countdown) >= _COUNTS_LIMIT:
            self._native_countdown.clear()
            self._native_profiles.clear()
        self._native_countdown[key] = left - 1
        profile = self._native_profiles.get(key)
        if profile is None:
            # Profiles in progress hold their programs' functions: keep a bounded number,
            # dropping the oldest (its code starts its count again if it runs again).
            if len(self._native_profiles) >= _PROFILES_LIMIT:
                oldest = next(iter(self._native_profiles))
                del self._native_profiles[oldest]
                self._native_countdown.pop(oldest, None)
            profile = self._native_profiles[key] = {}
        return profile

    def _submit_native(self, key: CacheKey, rules: ForkRules) -> None:
        """Build ``key``'s machine code on the worker, from its runs' profile. Runs in the
        executing thread after a frame: nothing here may fail that frame."""
        self._native_countdown[key] = -1
        try:
            profile = profile_from(self._native_profiles.pop(key, {}), self._native_profile_runs)
            assert self._worker is not None
            if self._native_compiler is None:
                from jit.native.backend import shared_compiler  # llvmlite: optional
                from jit.native.cache import MachineCodeCache

                self._native_compiler = shared_compiler()
                if self._native_cache_dir is not None:
                    self._native_cache = MachineCodeCache(self._native_cache_dir)
            self._native_pending[key] = self._worker.submit(
                _build_native, key[0], rules, profile, self._native_cache, self._native_compiler
            )
        except Exception as error:  # the code stays with the Python JIT
            logger.warning(
                "jit: native code for %s not built, it stays with the Python JIT: %s",
                keccak256(key[0]).hex(),
                error,
            )

    def _install_native_finished(self) -> None:
        from jit.native.program import install

        for key, future in _take_finished(self._native_pending):
            error = future.exception()
            program = self._programs.get(key)
            if error is not None:
                logger.warning(
                    "jit: native code for %s failed, it stays with the Python JIT: %s",
                    keccak256(key[0]).hex(),
                    error,
                )
            elif program is not None and "__native__" not in program.namespace:
                # (else evicted meanwhile, or already given machine code)
                native_build = future.result()
                self._native_loaded += native_build.loaded
                stats = install(program, native_build)
                self._clock.seconds += stats.compile_seconds
                self._clock.native_regions += stats.regions

    def _install_finished(self) -> None:
        for key, future in _take_finished(self._pending):
            error = future.exception()
            if error is not None:
                self._fail(key, error)
            else:
                self._install(key, future.result())

    def _fail(self, key: CacheKey, error: BaseException) -> None:
        self._failed.add(key)
        logger.warning(
            "jit: compiling code %s for %s failed, interpreting it from now on: %s",
            keccak256(key[0]).hex(),
            key[1].display_name + ("+MegaETH" if key[2] else ""),
            error,
        )

    def _install(self, key: CacheKey, program: Program) -> None:
        # Only the executing thread installs (the worker only returns futures), so no lock.
        self._compiled += 1
        self._compile_seconds += program.compile_seconds
        self._programs[key] = program
        self._code_bytes += len(key[0])
        while self._programs and (
            len(self._programs) > self.max_entries or self._code_bytes > self.max_code_bytes
        ):
            old_key, old = self._programs.popitem(last=False)
            self._native_profiles.pop(old_key, None)
            self._native_countdown.pop(old_key, None)
            self._code_bytes -= len(old_key[0])
            unload(old)

    # ------------------------------------------------------------------ control

    def program_for(self, code: bytes, rules: ForkRules) -> Program | None:
        """The cached program for ``code`` under ``rules``, if any."""
        return self._programs.get((code, rules.fork, rules.megaeth))

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for queued background compiles and install them (tests, benchmarks)."""
        for future in [*self._pending.values(), *self._native_pending.values()]:
            future.exception(timeout)
        self._install_finished()
        self._install_native_finished()

    def stats(self) -> EngineStats:
        return EngineStats(
            mode=self.mode,
            compiled=self._compiled,
            failed=len(self._failed),
            cached=len(self._programs),
            compile_seconds=self._compile_seconds + self._clock.seconds,
            compiled_runs=self._compiled_runs,
            interpreted_runs=self._interpreted_runs,
            native_regions=self._clock.native_regions,
            native_loaded=self._native_loaded,
        )

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None
        self._pending.clear()
        self._native_pending.clear()
