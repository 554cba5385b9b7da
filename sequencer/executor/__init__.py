"""Executors: run a batch of transactions into the open block (serial now; parallel later)."""

from sequencer.executor.serial import Executor, SerialExecutor

__all__ = ["Executor", "SerialExecutor"]
