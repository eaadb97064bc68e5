"""Log-spaced checkpoints."""

from __future__ import annotations

import numpy as np

__all__ = ["log_checkpoints"]


def log_checkpoints(steps: int, count: int = 30) -> list[int]:
    """Step 0, about `count` log-spaced steps in ``[1, steps]``, and the last step.

    Example:
        >>> log_checkpoints(1000, 5)
        [0, 1, 6, 32, 178, 1000]
    """
    if steps <= 0:
        return [0]
    points = np.unique(np.round(np.geomspace(1, steps, max(count, 2))).astype(int))
    return sorted({0, *points.tolist(), steps})
