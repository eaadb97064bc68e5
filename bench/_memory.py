"""Peak memory of a cell: CPU resident set (Linux VmHWM, reset per cell) and CUDA max allocated."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch

__all__ = ["PeakMemory"]


class PeakMemory:
    """Measure the peak memory of the code between `start` and `stop`.

    On Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the process's peak resident
    set size (``VmHWM`` in ``/proc/self/status``), so the peak is the cell's own. Elsewhere the
    process-lifetime peak (``ru_maxrss``) is reported and `cpu_exact` is False.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu_exact = False

    def start(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.cpu_exact = True
        except OSError:
            self.cpu_exact = False
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def stop(self) -> dict[str, float]:
        """``{"peak_rss_mb": ..., "cuda_max_allocated_mb": ...}`` (the latter on CUDA only)."""
        out = {"peak_rss_mb": self._rss_mb()}
        if self.device.type == "cuda":
            out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return out

    def _rss_mb(self) -> float:
        if self.cpu_exact:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
