"""Executors: run a batch of transactions into the open block (serial now; parallel later)."""

from sequencer.executor.serial import BlockProgress, Executor, SerialExecutor

__all__ = ["BlockProgress", "Executor", "SerialExecutor"]
