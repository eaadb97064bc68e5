"""Wide rows (networks) on the CPU take torch's fused Adam kernel row by row
(`optimizers._fused_adam`): trajectories equal torch.optim's per row, hyperparameters per row."""

from __future__ import annotations

import pytest
import torch

import optimizers
from optimizers._fused_adam import WIDE_ROW, takes_fused

TORCH = {
    "adam": lambda p, lr, wd: torch.optim.Adam([p], lr=lr, weight_decay=wd),
    "adamw": lambda p, lr, wd: torch.optim.AdamW([p], lr=lr, weight_decay=wd),
    "amsgrad": lambda p, lr, wd: torch.optim.Adam([p], lr=lr, weight_decay=wd, amsgrad=True),
}


def _grad(x: torch.Tensor) -> torch.Tensor:
    """The gradient of sum(x^4 / 4 - x): a nonlinear landscape, so moments vary by element."""
    return x**3 - 1


@pytest.mark.parametrize("name", sorted(TORCH))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_wide_rows_follow_torch_optim_row_by_row(name: str, dtype: torch.dtype) -> None:
    rows, width, steps = 3, WIDE_ROW + 7, 5
    lrs = torch.tensor([1e-3, 1e-2, 3e-2], dtype=dtype)
    wd = 0.05
    x = torch.randn(rows, width, generator=torch.Generator().manual_seed(0), dtype=dtype)
    opt = optimizers.configure(name, lr=lrs, weight_decay=wd)
    state = opt.init(x)
    assert takes_fused(x, _grad(x), state)
    params = [torch.nn.Parameter(x[r].clone()) for r in range(rows)]
    torch_opts = [TORCH[name](p, float(lrs[r]), wd) for r, p in enumerate(params)]
    before = x.clone()
    ours = x
    for _ in range(steps):
        ours, state = opt.step(ours, _grad(ours), state)
        for p, o in zip(params, torch_opts, strict=True):
            p.grad = _grad(p.detach())
            o.step()
    assert torch.equal(x, before)  # the caller's x is never written
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    for r, p in enumerate(params):
        torch.testing.assert_close(ours[r], p.detach(), rtol=tol, atol=tol)
    assert state["step"].flatten().tolist() == [steps] * rows


def test_narrow_rows_and_other_layouts_keep_the_tensor_ops() -> None:
    x = torch.zeros(4, WIDE_ROW - 1)
    opt = optimizers.configure("adam")
    assert not takes_fused(x, x, opt.init(x))
    wide = torch.zeros(2, WIDE_ROW)
    assert takes_fused(wide, wide, opt.init(wide))
    assert not takes_fused(wide.T.contiguous().T, wide, opt.init(wide))  # column-major rows
    assert not takes_fused(wide.half(), wide.half(), opt.init(wide.half()))
