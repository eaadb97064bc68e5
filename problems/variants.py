"""Instances (seeded shift and rotation) and noisy variants, composable with every problem.

Placeholder contract, filled in by the catalogue work: `split_variant_options` separates
variant keys from a problem's own options and `apply_variants` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping

from problems._problem import Problem

VARIANT_KEYS = ("instance", "shift", "rotate", "noise", "noise_kind")


def split_variant_options(
    options: Mapping[str, object],
) -> tuple[dict[str, object], dict[str, object]]:
    base = {k: v for k, v in options.items() if k not in VARIANT_KEYS}
    variant = {k: v for k, v in options.items() if k in VARIANT_KEYS}
    return base, variant


def apply_variants(problem: Problem, options: Mapping[str, object]) -> Problem:
    return problem
