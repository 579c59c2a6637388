"""Running a batch command (``patron nightly``, ``patron import``, ``patron analytics``) at a
lower CPU priority than the till's server on the same machine (docs/operations.md, "Soak").

On Linux a nice value belongs to each thread, and a new thread starts with its creator's:
every thread the process already has (a BLAS or DuckDB pool started by an import) is set,
and the ones started afterwards follow the main thread.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_TASKS = Path("/proc/self/task")


def lower_priority(nice: int) -> int:
    """Raise this process's nice value to at least ``nice`` (0–19; never lowered, which
    would need privileges); returns the main thread's nice value afterwards."""
    if not 0 <= nice <= 19:
        raise ValueError(f"nice must be 0–19, not {nice}")
    if not hasattr(os, "setpriority"):  # pragma: no cover - not a POSIX system
        return 0
    if _TASKS.is_dir():
        for task in _TASKS.iterdir():
            # a thread may end meanwhile; one not ours to change is left as it is
            with contextlib.suppress(OSError, ValueError):
                tid = int(task.name)
                if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)
    elif os.getpriority(os.PRIO_PROCESS, 0) < nice:  # pragma: no cover - BSD, macOS
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)
