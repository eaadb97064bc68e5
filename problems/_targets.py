"""The target precisions on the gap ``best_loss - f_star`` that a study records by default."""

from __future__ import annotations

__all__ = ["DEFAULT_TARGETS"]

DEFAULT_TARGETS: tuple[float, ...] = (1e1, 1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
"""Loose to tight, one per decade, as COCO's run-length targets (Hansen et al., "COCO:
Performance Assessment", 2016). The harness records the first hit of each; the reading side
summarises at the same targets unless told otherwise."""
