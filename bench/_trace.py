"""`Trace`: what a cell's rows went through, on the host (the harness's one result type)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["Trace"]


@dataclass
class Trace:
    """What a cell's rows went through, on the host.

    Shapes: C checkpoints, R rows, T targets, d dimensions, K traced rows.
    """

    checkpoints: list[int]  # steps actually recorded (a time budget may cut the list)
    time_s: list[float]  # cumulative step time at each checkpoint
    loss: Tensor  # [C, R] full loss at the checkpoint's point
    best: Tensor  # [C, R] best loss evaluated so far
    metrics: dict[str, Tensor]  # name -> [C, R]
    hits: Tensor  # [R, T] first step reaching each target (-1: never), targets loose -> tight
    targets: list[float]  # loose -> tight
    diverged_at: Tensor  # [R] step at which the row's loss became non-finite (-1: never)
    positions: Tensor | None  # [C, K, d] points of the first K rows (2-D problems)
    warmup_s: float = 0.0
    step_mode: str = "eager"  # one of STEP_MODES: how the steps ran
    evals: Tensor | None = None  # [C, R] evaluations counted by the method (None: steps x rate)
    extra: dict[str, object] = field(default_factory=dict)
