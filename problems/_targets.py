"""Precisions on the gap ``best_loss - f_star``: the default targets and the rounding floor."""

from __future__ import annotations

__all__ = ["DEFAULT_TARGETS", "EPSILON", "float_precision"]

DEFAULT_TARGETS: tuple[float, ...] = (1e1, 1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
"""Loose to tight, one per decade, as COCO's run-length targets (Hansen et al., "COCO:
Performance Assessment", 2016). The harness records the first hit of each; the reading side
summarises at the same targets unless told otherwise."""

EPSILON: dict[str, float] = {
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
    "float32": 2.0**-23,
    "float64": 2.0**-52,
}
"""Machine epsilon by dtype name (``torch.finfo(dtype).eps``, without importing torch)."""


def float_precision(f_star: float | None, dtype: str, *, unknown: float = 0.0) -> float:
    r"""How finely a gap to `f_star` can be resolved in `dtype`: :math:`\epsilon\,\max(1, |f^*|)`.

    A loss evaluated near its minimum :math:`f^*` is exact only to about :math:`\epsilon|f^*|`
    (about :math:`\epsilon` times the size of its terms where :math:`f^* = 0`), so gaps, and
    differences of gaps, finer than this are rounding, not progress. The one rule behind the
    pytest convergence gate, the benchmark change table and the reports' rounding tolerance.

    Args:
        f_star: the known optimum (None or NaN: unknown, scale 1).
        dtype: a dtype name (``"float64"``).
        unknown: the epsilon used for a dtype name not in `EPSILON`.

    Example:
        >>> float_precision(0.0, "float64") == 2.0**-52, float_precision(-1e3, "float32")
        (True, 0.00011920928955078125)
    """
    scale = abs(float(f_star)) if f_star is not None and f_star == f_star else 0.0
    return EPSILON.get(str(dtype), unknown) * max(1.0, scale)
