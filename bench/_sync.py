"""Wait for a device's queued work: the one synchronisation the timing code uses."""

from __future__ import annotations

import torch

__all__ = ["synchronize"]


def synchronize(device: torch.device | str) -> None:
    """Block until every kernel queued on `device` has finished (no-op on the CPU).

    Wall time read after this covers the work itself, not only its launch: CUDA and MPS run
    kernels asynchronously, so timing without it measures the Python loop.

    Example:
        >>> synchronize("cpu")  # nothing is queued on the CPU
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
