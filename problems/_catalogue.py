"""The problem registry and the `get` entry point."""

from __future__ import annotations

from problems._problem import Problem
from problems._registry import Registry
from problems._spec import Spec, parse_spec

__all__ = ["PROBLEMS", "get", "register"]

PROBLEMS: Registry[Problem] = Registry("problem")
register = PROBLEMS.register


def get(spec: str | Spec, **options: object) -> Problem:
    """Build a problem from its spec: ``get("rastrigin:dim=10")`` or ``get("rastrigin", dim=10)``.

    Instance and variant options (``shift``, ``rotate``, ``instance``, ``noise``...) are
    understood by every problem; see `problems.instance`.
    """
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    merged = {**parsed.options, **options}
    from problems.variants import VARIANT_KEYS, apply_variants, split_variant_options

    base_options, variant_options = split_variant_options(merged)
    problem = PROBLEMS.create(Spec(parsed.name, base_options), also=VARIANT_KEYS)
    problem = problem.with_(options={**base_options})
    return apply_variants(problem, variant_options)
