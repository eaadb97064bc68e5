r"""Memory checks before work: refuse a cell that cannot fit, before anything is allocated.

A cell holds ``R = seeds x starts_per_seed`` rows of dimension ``d`` in the study's dtype
(``b`` bytes a number). Its estimate, in bytes:

.. math::

    \text{device} = R\,d\,b\,(k + 3) + \text{data}, \qquad
    \text{host} = 2\,R\,d \cdot 8 \;(\text{cuda cells}), \qquad
    \text{cpu cell} = R\,d\,(8 + b\,(k + 2)) + \text{data}

where ``k`` is the method's state per row and dimension (measured once per method by
`state_per_value`: x, momenta, second moments...), the 3 are the starts, the gradient and one
temporary of the objective, and the 8-byte terms are the float64 draws of the starts on the
host (`bench._engine.starts`). An ML problem adds its data set (float64 and the run's dtype)
and the activations of a batch (``R x batch x units`` in forward and backward).

The dimension comes from the spec without building the problem where it can (a ``dim``
option or the factory's default; an MLP's parameter count from its ``inputs``, ``hidden`` and
``depth``), because building a problem of a hundred million dimensions already takes seconds
and gigabytes: ``sphere:dim=100000000`` with 1000 seeds of adam is refused in a fraction of a
second. The limits: ``psutil.virtual_memory().available`` for the host, the free memory of
the CUDA device (``torch.cuda.mem_get_info``), and on a Dask cluster the smallest worker's
memory limit. Each cell is checked on its own (``--workers N`` runs N side by side: leave them
room).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

import optimizers
import problems
from problems import SpecError, parse_spec

__all__ = [
    "MemoryLimit",
    "Need",
    "cell_need",
    "check_study",
    "human",
    "spec_dim",
    "state_per_value",
]

PROBE_DIMS = (16, 48)
"""Dimensions of the sphere on which `state_per_value` measures a method's state."""


@dataclass(frozen=True)
class MemoryLimit:
    """The host memory a cell may use where it runs elsewhere (a Dask cluster's smallest
    worker), and where that is, for the message."""

    host: int
    where: str


@dataclass(frozen=True)
class Need:
    """Estimated peak bytes of one cell: on the host, and on its device when that is not it."""

    host: int
    device: int
    detail: str


def human(n: float) -> str:
    """Bytes as text: ``human(8e11)`` is ``'745.1 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _options(spec: str) -> tuple[str, dict[str, Any]]:
    """A problem spec's name and its options with the factory's defaults filled in."""
    parsed = parse_spec(spec)
    factory = problems.PROBLEMS.factory(parsed.name)  # an unknown name fails here, named
    defaults = {
        k: p.default
        for k, p in inspect.signature(factory).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    return parsed.name, {**defaults, **parsed.options}


def spec_dim(spec: str) -> int | None:
    """The dimension of a problem spec without building it, or None when only building tells.

    Example:
        >>> spec_dim("sphere:dim=100000000"), spec_dim("mlp-regression:inputs=4,hidden=8")
        (100000000, 121)
    """
    _, options = _options(spec)
    dim = options.get("dim")
    if isinstance(dim, int) and not isinstance(dim, bool):
        return dim
    widths = _widths(options)
    if widths is not None:
        return sum(out * inp + out for inp, out in itertools.pairwise(widths))
    return None


def _widths(options: Mapping[str, Any]) -> list[int] | None:
    """Layer widths ``inputs, hidden x depth, 1`` of an MLP spec's options, else None."""
    values = [options.get(k) for k in ("inputs", "hidden", "depth")]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    inputs, hidden, depth = (int(v) for v in values)  # type: ignore[arg-type]
    return [inputs, *([hidden] * depth), 1]


def _data_bytes(options: Mapping[str, Any], rows: int, itemsize: int) -> int:
    """An ML problem's data set and a batch's activations (0 for a landscape)."""
    widths = _widths(options)
    n = [options.get(k) for k in ("n_train", "n_test", "batch")]
    if widths is None or not all(isinstance(v, int) for v in n):
        return 0
    n_train, n_test, batch = n
    data = (n_train + n_test) * (widths[0] + 1) * (8 + itemsize)  # type: ignore[operator]
    activations = 3 * rows * batch * sum(widths[1:]) * itemsize  # type: ignore[operator]
    return int(data + activations)


_measured: dict[str, float] = {}


def state_per_value(method: optimizers.Method) -> float:
    """Numbers a method keeps per row and dimension: its state's bytes after one step on
    the sphere, as a slope over two dimensions (so per-row scalars and constants drop out),
    in units of one value. Plain gradient descent keeps 1 (``x``), Adam 3 (``x``, ``exp_avg``,
    ``exp_avg_sq``). Measured once per method label; a method that cannot run on the sphere
    counts as 3.
    """
    label = method.info.label
    if label not in _measured:
        try:
            sizes = [_state_bytes(method, d) for d in PROBE_DIMS]
            rows = 2 * method.info.starts_per_seed
            _measured[label] = max(
                1.0, (sizes[1] - sizes[0]) / ((PROBE_DIMS[1] - PROBE_DIMS[0]) * rows * 8)
            )
        except Exception:  # any failure of the probe: a generous default, never a crash
            _measured[label] = 3.0
    return _measured[label]


def _state_bytes(method: optimizers.Method, dim: int) -> int:
    from bench._engine import make_objective

    problem = problems.PROBLEMS.create(f"sphere:dim={dim}")  # a probe, not a study problem
    rows = 2 * method.info.starts_per_seed
    device, dtype = torch.device("cpu"), torch.float64
    ctx = optimizers.Context(problem, torch.Generator().manual_seed(0), device, dtype)
    x0 = problem.sample(rows, torch.Generator().manual_seed(0))
    state = method.init(x0.clone(), ctx)
    state = method.step(state, make_objective(lambda x, k: problem.loss(x), [0]), ctx)
    seen: set[int] = set()
    return _tensor_bytes(state, seen, depth=0)


def _tensor_bytes(value: object, seen: set[int], depth: int) -> int:
    """Bytes of the distinct tensors reachable from `value` (containers, objects)."""
    if depth > 8 or id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        storage = value.untyped_storage()
        if storage.data_ptr() in seen:
            return 0
        seen.add(storage.data_ptr())
        return int(storage.nbytes())
    if isinstance(value, Mapping):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set)):
        items = list(value)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        items = list(vars(value).values())
    else:
        return 0
    return sum(_tensor_bytes(item, seen, depth + 1) for item in items)


def cell_need(study: Any, problem_spec: str, optimizer_spec: str, device: str) -> Need:
    """The estimate of the module docstring for one cell of `study` (a `bench.Study`)."""
    method = study.method(optimizer_spec)
    dim = spec_dim(problem_spec)
    if dim is None:
        dim = study.problem(problem_spec).dim  # a fixed-dimension problem: cheap to build
    _, options = _options(problem_spec)
    rows = len(study.seeds) * method.info.starts_per_seed
    b = study.torch_dtype.itemsize
    k = state_per_value(method)
    values = rows * dim
    data = _data_bytes(options, rows, b)
    detail = (
        f"{len(study.seeds)} seeds x {method.info.starts_per_seed} rows x {dim} dims x "
        f"{study.dtype}, {k:.3g} state values per number"
    )
    if torch.device(device).type == "cpu":
        return Need(int(values * (8 + b * (k + 2)) + data), 0, detail)
    return Need(2 * values * 8, int(values * b * (k + 3) + data), detail)


def _limits(device: str) -> tuple[int, int | None]:
    import psutil

    host = int(psutil.virtual_memory().available)
    kind = torch.device(device)
    if kind.type == "cuda" and torch.cuda.is_available():
        return host, int(torch.cuda.mem_get_info(kind)[0])
    return host, None


def check_study(study: Any, *, host_limit: int | None = None, where: str = "") -> None:
    """Refuse the first cell of `study` whose estimate exceeds the memory available.

    Args:
        study: a `bench.Study`.
        host_limit: the host's limit in bytes (a Dask cluster's smallest worker); default
            the memory available on this machine.
        where: what the host limit is, for the message.

    Raises:
        SpecError: one line naming the cell, its need and the limit.
    """
    for problem_spec in study.problems:
        for optimizer_spec in study.optimizers:
            for device in study.devices:
                need = cell_need(study, problem_spec, optimizer_spec, device)
                host, gpu = _limits(device)
                if host_limit is not None:
                    host = host_limit
                cell = f"{problem_spec} x {optimizer_spec} on {device}"
                if need.host > host:
                    msg = (
                        f"{cell} needs about {human(need.host)} of memory ({need.detail}); "
                        f"{human(host)} is available{where}: fewer seeds, a smaller problem "
                        "or float32"
                    )
                    raise SpecError(msg)
                if gpu is not None and need.device > gpu:
                    msg = (
                        f"{cell} needs about {human(need.device)} of GPU memory "
                        f"({need.detail}); {human(gpu)} is free on {device}"
                    )
                    raise SpecError(msg)
