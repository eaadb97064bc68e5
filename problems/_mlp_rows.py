"""The MLP's rows one after another, with a backward that writes into the flat gradient.

Row ``r`` of ``x: [R, P]`` is one network ``Linear, ReLU, ..., Linear`` (`problems.mlp`'s
layout); its loss is ``l_r = mean_b (z_L[b] - t[b])^2`` with ``h_0 = inputs``,
``z_k = h_{k-1} W_k^T + b_k`` and ``h_k = relu(z_k)``. The backward is backpropagation
written out, layer by layer from the top:

    g_L = (dl / B) * 2 (z_L - t)                  dl: the row's upstream gradient
    dW_k = g_k^T h_{k-1},  db_k = sum_b g_k
    g_{k-1} = (g_k W_k) * [h_{k-1} > 0]          (ReLU's derivative)

Each ``dW_k`` goes by ``torch.mm(..., out=)`` straight into its place in one ``[R, P]``
buffer, so the gradient is assembled with no copy. Autograd's backward of the same forward
(rows split into views) computes each piece into a fresh tensor and copies it into place:
at 8 networks of two million parameters, 64 MB more written per step, about 0.6 ms per
network-step on the 2-core machine (docs/PERFORMANCE.md). The ops are autograd's own
(``addmm``'s backward, ``threshold_backward``), so the values agree with it to rounding:
BLAS may round a product differently when its output lies at another address
(tests/test_mlp.py compares the two in float64).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

__all__ = ["layer_shapes", "mse_row_by_row"]

_Layers = list[tuple[Tensor, Tensor]]


def layer_shapes(widths: Sequence[int]) -> list[tuple[int, int]]:
    """``(out, in)`` of each linear layer for layer widths ``(inputs, hidden..., 1)``."""
    return [(widths[k + 1], widths[k]) for k in range(len(widths) - 1)]


def _row_layers(row: Tensor, widths: Sequence[int]) -> _Layers:
    """Views of one row ``[P]`` as layers ``(weight [out, in], bias [out])``."""
    shapes = layer_shapes(widths)
    pieces = row.split([n for out, inp in shapes for n in (out * inp, out)])
    return [(pieces[2 * k].view(shape), pieces[2 * k + 1]) for k, shape in enumerate(shapes)]


def _forward(layers: _Layers, h: Tensor) -> tuple[Tensor, list[Tensor]]:
    """One network's predictions ``[B, 1]`` and the inputs of its layers ``[h_0, ...]``."""
    inputs = [h]
    for k, (weight, bias) in enumerate(layers):
        h = F.linear(h, weight, bias)
        if k < len(layers) - 1:
            h = torch.relu(h)
            inputs.append(h)
    return h, inputs


def _backward(
    grad: Tensor, layers: _Layers, inputs: list[Tensor], residual: Tensor, upstream: Tensor
) -> None:
    """Write one row's gradient into `grad` ``[P]`` (the module docstring's recursion)."""
    g = (upstream / residual.shape[0] * (2 * residual)).unsqueeze(-1)
    offset = grad.numel()
    for k in range(len(layers) - 1, -1, -1):
        weight, bias = layers[k]
        offset -= bias.numel()
        torch.sum(g, 0, out=grad[offset : offset + bias.numel()])
        offset -= weight.numel()
        dw = grad[offset : offset + weight.numel()].view(weight.shape)
        torch.mm(inputs[k].t(), g, out=dw.t())  # (h^T g)^T, as addmm's backward computes it
        if k:
            g = torch.ops.aten.threshold_backward(g.mm(weight), inputs[k], 0)


_Saved = list[tuple[_Layers, list[Tensor], Tensor]]


def _losses(
    x: Tensor, widths: Sequence[int], inputs: Tensor, targets: Tensor, *, keep: bool
) -> tuple[Tensor, _Saved]:
    """Rows' MSE ``[R]``, row after row, and (with `keep`) what each row's backward needs."""
    losses = x.new_empty(x.shape[0])
    saved: _Saved = []
    for r, row in enumerate(x.unbind(0)):
        h, t = (inputs, targets) if inputs.ndim == 2 else (inputs[r], targets[r])
        layers = _row_layers(row, widths)
        prediction, layer_inputs = _forward(layers, h)
        residual = prediction.squeeze(-1) - t
        losses[r] = residual.square().mean()
        if keep:
            saved.append((layers, layer_inputs, residual))
    return losses, saved


class _RowByRowMSE(torch.autograd.Function):
    """`_losses` as an autograd node whose backward is the module docstring's recursion."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, widths: Sequence[int], inputs: Tensor, targets: Tensor
    ) -> Tensor:
        losses, ctx.saved = _losses(x, widths, inputs, targets, keep=True)
        ctx.shape = x.shape
        return losses

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, upstream: Tensor) -> tuple[Tensor, None, None, None]:
        grad = upstream.new_empty(ctx.shape)
        for r, (layers, layer_inputs, residual) in enumerate(ctx.saved):
            _backward(grad[r], layers, layer_inputs, residual, upstream[r])
        ctx.saved = []
        return grad, None, None, None


def mse_row_by_row(x: Tensor, widths: Sequence[int], inputs: Tensor, targets: Tensor) -> Tensor:
    """Each row's MSE ``[R]``, rows one after another (`problems.mlp.mse_rows`'s contract).

    Args:
        x: rows ``[R, P]``.
        widths: layer widths ``(inputs, hidden..., 1)``.
        inputs: ``[B, in]`` shared by all rows, or ``[R, B, in]`` one batch per row.
        targets: ``[B]`` or ``[R, B]`` to match.
    """
    if x.requires_grad and torch.is_grad_enabled():
        losses: Tensor = _RowByRowMSE.apply(x, widths, inputs, targets)
        return losses
    with torch.no_grad():
        return _losses(x, widths, inputs, targets, keep=False)[0]
