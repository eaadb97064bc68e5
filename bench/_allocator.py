"""Keep glibc from returning big tensors' memory to the OS after every step.

glibc serves allocations above its mmap threshold (at most 32 MB) with fresh ``mmap`` pages
and unmaps them on free, so a step loop that makes new ``[R, P]`` tensors (an MLP's
parameters, R networks at once) page-faults its whole working set in again on every step:
measured on 2 cores with 8 networks of width 1000, 36 ms per network-step instead of 13.
`keep_freed_memory` sets ``M_MMAP_MAX = 0`` and a large ``M_TRIM_THRESHOLD`` (the same as the
environment variables ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...``), so freed blocks stay
in the heap and are reused. It changes nothing on other platforms or C libraries.

Huge pages: torch's CPU allocator asks the kernel for transparent huge pages
(``madvise(MADV_HUGEPAGE)``, 2 MB pages) for tensors of 2 MB and more when the environment
variable ``THP_MEM_ALLOC_ENABLE=1`` is set before torch's first allocation. Importing
`bench` sets that default when torch is not imported yet (the CLI, ``--workers`` processes,
``python -m bench.perf.mlp``; a notebook that imported torch first keeps torch's default).
It changes no number, only how fast a fresh tensor's pages arrive: on the 2-core machine a
fresh 64 MB tensor (the MLP's ``[8, P]`` Adam step at width 1000) cost 30 to 100 ms in
4 KB page faults with either glibc setting and about 4 ms with huge pages. The plain
``torch.optim`` loop gains as much, so the MLP's ratio to it did not move
(docs/PERFORMANCE.md).

It is process-wide state, so library calls (`bench.run_study`, `bench.run_rows`, a notebook,
pytest) never set it: the command line does (``bench run``, ``bench perf``,
``python -m bench.perf.mlp``), and so does the initializer of ``--workers`` processes, and
meta.json records the setting a run used (`setting`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["SETTING", "keep_freed_memory", "setting"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_done = False

SETTING = "glibc keep-freed"
"""How meta.json names the setting (``"allocator"``); null when the default allocator ran."""


def keep_freed_memory() -> bool:
    """Tune glibc's malloc once per process; True when it applied."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _done = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _done


def setting() -> str | None:
    """`SETTING` when `keep_freed_memory` applied in this process, else None."""
    return SETTING if _done else None
