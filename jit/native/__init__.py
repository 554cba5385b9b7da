"""The native tier (issue 22): EVM bytecode regions compiled to machine
code through LLVM IR (llvmlite), layered over the Python JIT's program.

Optional: llvmlite is the ``native`` extra (``pip install 'hummingbird[native]'``).
``unavailable_reason()`` says why the tier cannot run here (None when it can); nothing
outside this package imports llvmlite.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path


def unavailable_reason() -> str | None:
    """None when the native tier can run, else a sentence saying why not."""
    if find_spec("llvmlite") is None:
        return (
            "the native engine needs llvmlite, which is not installed "
            "(pip install 'hummingbird[native]' or pip install llvmlite)"
        )
    return None


def default_cache_directory() -> Path:
    """Where ``hummingbird --engine native`` keeps machine code (``cache``) unless told:
    ``$XDG_CACHE_HOME/hummingbird/native``, else ``~/.cache/hummingbird/native``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hummingbird" / "native"
