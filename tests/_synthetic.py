"""Synthetic results that follow docs/RESULTS.md exactly, for the report tests.

`write_study(out, ...)` writes ``out/parts/<cell_id>.parquet`` (one per cell) and
``out/meta.json`` the way the harness does, with made-up but plausible convergence curves:
log-spaced checkpoints, target rows, trajectory and landscape-grid rows for 2-D problems, a few
diverged and failed seeds, and an ML problem with held-out loss and a noise floor.

Run it as a script to time the default-sized report (15 problems x 5 optimizers x 10 seeds)::

    .venv/bin/python tests/_synthetic.py
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_OPTIMIZERS", "DEFAULT_PROBLEMS", "SyntheticProblem", "write_study"]

TARGETS = [1e1, 1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]


def _rosenbrock(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _himmelblau(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _camel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


def _beale(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _booth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _matyas(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.26 * (x**2 + y**2) - 0.48 * x * y


def _ackley(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = np.sqrt(0.5 * (x**2 + y**2))
    c = 0.5 * (np.cos(2 * np.pi * x) + np.cos(2 * np.pi * y))
    return -20 * np.exp(-0.2 * r) - np.exp(c) + np.e + 20


def _rastrigin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 20 + x**2 - 10 * np.cos(2 * np.pi * x) + y**2 - 10 * np.cos(2 * np.pi * y)


@dataclass(frozen=True)
class SyntheticProblem:
    """One made-up problem of the catalogue.

    Attributes:
        spec: the problem spec string (``"rastrigin:dim=10"``).
        name: the registry name.
        dim: the dimension.
        f_star: the known optimum, or NaN.
        tags: comma-separated tags.
        hardness: 0 (easy) .. 1 (hard): slows every optimizer down.
        fn: for 2-D problems, the landscape ``(x, y) -> f``.
        bounds: for 2-D problems, ``((xlo, ylo), (xhi, yhi))``.
        x_star: for 2-D problems, the minimiser the trajectories head to.
        ml: whether it has held-out loss, epochs and a noise floor.
    """

    spec: str
    name: str
    dim: int
    f_star: float = 0.0
    tags: str = ""
    hardness: float = 0.3
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    bounds: tuple[tuple[float, float], tuple[float, float]] = ((-5.0, -5.0), (5.0, 5.0))
    x_star: tuple[float, float] = (0.0, 0.0)
    ml: bool = False
    extra: dict[str, float] = field(default_factory=dict)


DEFAULT_PROBLEMS: list[SyntheticProblem] = [
    SyntheticProblem("sphere:dim=10", "sphere", 10, tags="convex,separable", hardness=0.05),
    SyntheticProblem(
        "rosenbrock",
        "rosenbrock",
        2,
        tags="valley",
        hardness=0.5,
        fn=_rosenbrock,
        bounds=((-2.0, -1.0), (2.0, 3.0)),
        x_star=(1.0, 1.0),
    ),
    SyntheticProblem(
        "rastrigin:dim=10", "rastrigin", 10, tags="multimodal,separable", hardness=0.95
    ),
    SyntheticProblem(
        "himmelblau",
        "himmelblau",
        2,
        tags="multimodal",
        hardness=0.25,
        fn=_himmelblau,
        x_star=(3.0, 2.0),
    ),
    SyntheticProblem(
        "six-hump-camel",
        "six-hump-camel",
        2,
        f_star=-1.0316284534898774,
        tags="multimodal",
        hardness=0.3,
        fn=_camel,
        bounds=((-3.0, -2.0), (3.0, 2.0)),
        x_star=(0.0898, -0.7126),
    ),
    SyntheticProblem(
        "beale",
        "beale",
        2,
        tags="plateau",
        hardness=0.45,
        fn=_beale,
        bounds=((-4.5, -4.5), (4.5, 4.5)),
        x_star=(3.0, 0.5),
    ),
    SyntheticProblem(
        "booth",
        "booth",
        2,
        tags="convex",
        hardness=0.1,
        fn=_booth,
        bounds=((-10.0, -10.0), (10.0, 10.0)),
        x_star=(1.0, 3.0),
    ),
    SyntheticProblem(
        "matyas",
        "matyas",
        2,
        tags="convex",
        hardness=0.15,
        fn=_matyas,
        bounds=((-10.0, -10.0), (10.0, 10.0)),
    ),
    SyntheticProblem(
        "ackley:dim=2",
        "ackley",
        2,
        tags="multimodal",
        hardness=0.7,
        fn=_ackley,
    ),
    SyntheticProblem(
        "rastrigin:dim=2",
        "rastrigin",
        2,
        tags="multimodal,separable",
        hardness=0.8,
        fn=_rastrigin,
        bounds=((-5.12, -5.12), (5.12, 5.12)),
    ),
    SyntheticProblem(
        "ellipsoid:dim=10,condition=1e6", "ellipsoid", 10, tags="ill-conditioned", hardness=0.6
    ),
    SyntheticProblem("rosenbrock:dim=10", "rosenbrock", 10, tags="valley", hardness=0.75),
    SyntheticProblem("ackley:dim=10", "ackley", 10, tags="multimodal", hardness=0.85),
    SyntheticProblem(
        "styblinski-tang:dim=5",
        "styblinski-tang",
        5,
        f_star=-195.83082851885,
        tags="multimodal,separable",
        hardness=0.65,
    ),
    SyntheticProblem(
        "mlp-regression",
        "mlp-regression",
        4417,
        f_star=math.nan,
        tags="stochastic,ml",
        hardness=0.5,
        ml=True,
    ),
]

DEFAULT_OPTIMIZERS: list[tuple[str, str, float, float]] = [
    # (label, registry name, speed, hp_lr)
    ("sgd:lr=0.001", "sgd", 0.35, 1e-3),
    ("momentum", "momentum", 0.6, 1e-3),
    ("adam:lr=0.01", "adam", 0.9, 1e-2),
    ("nesterov", "nesterov", 0.7, 1e-3),
    ("restarts(adam,n=16)", "restarts", 0.8, 1e-2),
]


def _cell_id(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _checkpoints(steps: int, n: int) -> np.ndarray:
    cps = np.unique(np.round(np.logspace(0, math.log10(steps), n)).astype(int))
    return np.unique(np.append(cps, steps)).astype(float)


def _cell_frame(
    study: str,
    problem: SyntheticProblem,
    optimizer: tuple[str, str, float, float],
    *,
    device: str,
    seeds: int,
    steps: int,
    checkpoints: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    label, opt_name, speed, lr = optimizer
    cell_id = _cell_id(study, problem.spec, label, device)
    cps = _checkpoints(steps, checkpoints)
    multistart = opt_name == "restarts"
    evals_per_step = 16 if multistart else 1
    step_time = (
        (2e-5 if device == "cpu" else 6e-5) * (1 + problem.dim / 50) * (4 if multistart else 1)
    )
    if problem.ml:
        step_time *= 20
    rate = 12 * speed * (1.05 - problem.hardness) * float(rng.uniform(0.7, 1.3))
    floor = 10 ** (-9 + 8 * problem.hardness**2 * (1.2 - speed)) if not problem.ml else 0.02
    f_star = 0.0 if math.isnan(problem.f_star) else problem.f_star
    base = {
        "study": study,
        "cell_id": cell_id,
        "problem": problem.spec,
        "problem_name": problem.name,
        "dim": problem.dim,
        "tags": problem.tags,
        "f_star": problem.f_star,
        "optimizer": label,
        "optimizer_name": opt_name,
        "device": device,
        "dtype": "float64",
        "warmup_s": 0.05,
        "step_time_s": step_time,
        "hp_lr": lr,
    }
    frames: list[pd.DataFrame] = []
    for seed in range(seeds):
        g0 = 10 ** rng.uniform(1, 3)
        jitter = rng.uniform(0.8, 1.25)
        frac = cps / steps
        gap = g0 * np.exp(-rate * jitter * frac * 10) + floor * rng.uniform(0.5, 2)
        gap *= np.exp(rng.normal(0, 0.05, size=len(cps)))
        gap = np.minimum.accumulate(gap)
        status, reason, last = "ok", "", len(cps)
        if opt_name == "sgd" and problem.hardness > 0.7 and seed % 4 == 1:
            last = len(cps) // 2
            status = "diverged"
            reason = f"loss became inf at step {int(cps[last])}"
        elif opt_name == "momentum" and problem.name == "beale" and seed == 3:
            last = 3
            status = "failed"
            reason = "RuntimeError: CUDA out of memory (synthetic)"
        t = cps[:last]
        g = gap[:last]
        loss = g + f_star
        evals = t * evals_per_step
        time_s = t * step_time
        ck = pd.DataFrame(
            {
                "record": "checkpoint",
                "seed": seed,
                "status": status,
                "reason": reason,
                "step": t,
                "evals": evals,
                "time_s": time_s,
                "loss": loss * np.exp(rng.normal(0, 0.02, size=len(t))),
                "best_loss": loss,
                "gap": g if not math.isnan(problem.f_star) else np.nan,
                "target": np.nan,
            }
        )
        if problem.ml:
            ck["epoch"] = t / 10
            ck["heldout_loss"] = loss * 1.1 + 0.05
            ck["noise_floor"] = 0.05
        frames.append(ck)
        known = not math.isnan(problem.f_star)
        # target rows; where f_star is unknown the harness puts the targets on the loss
        rows = []
        for target in TARGETS:
            hit = np.nonzero(g <= target)[0]
            i = hit[0] if len(hit) else None
            rows.append(
                {
                    "step": t[i] if i is not None else np.nan,
                    "evals": evals[i] if i is not None else np.nan,
                    "time_s": time_s[i] if i is not None else np.nan,
                    "loss": loss[i] if i is not None else np.nan,
                    "best_loss": loss[i] if i is not None else np.nan,
                    "gap": g[i] if i is not None and known else np.nan,
                    "target": target,
                }
            )
        tg = pd.DataFrame(rows)
        tg["record"] = "target"
        tg["seed"] = seed
        tg["status"] = status
        tg["reason"] = reason
        frames.append(tg)
        if problem.fn is not None and seed < 3:
            (xlo, ylo), (xhi, yhi) = problem.bounds
            start = np.array([rng.uniform(xlo, xhi), rng.uniform(ylo, yhi)])
            end = np.array(problem.x_star)
            w = (1 - g / g[0])[:, None] ** (1 / max(speed, 0.1))
            pts = start + w * (end - start) + rng.normal(0, 0.02, size=(len(t), 2)) * (1 - w)
            tr = pd.DataFrame(
                {
                    "record": "trajectory",
                    "seed": seed,
                    "status": status,
                    "reason": reason,
                    "step": t,
                    "evals": evals,
                    "time_s": time_s,
                    "loss": loss,
                    "best_loss": loss,
                    "x0": pts[:, 0],
                    "x1": pts[:, 1],
                    "row": 0.0,
                }
            )
            frames.append(tr)
    if problem.fn is not None:
        (xlo, ylo), (xhi, yhi) = problem.bounds
        xs, ys = np.meshgrid(np.linspace(xlo, xhi, 60), np.linspace(ylo, yhi, 60))
        frames.append(
            pd.DataFrame(
                {
                    "record": "grid",  # as the harness writes it: no seed, no status
                    "seed": np.nan,
                    "status": None,
                    "reason": None,
                    "x0": xs.ravel(),
                    "x1": ys.ravel(),
                    "loss": problem.fn(xs, ys).ravel(),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    for key, value in base.items():
        df[key] = value
    for col in ("epoch", "heldout_loss", "x0", "x1", "step", "evals", "time_s", "target"):
        if col not in df:
            df[col] = np.nan
    df["seed"] = df["seed"].astype("float64")  # NaN on grid rows, as the harness writes it
    df["dim"] = df["dim"].astype("int64")
    columns = [
        "record",
        "study",
        "cell_id",
        "problem",
        "problem_name",
        "dim",
        "tags",
        "f_star",
        "optimizer",
        "optimizer_name",
        "device",
        "dtype",
        "seed",
        "status",
        "reason",
        "step",
        "evals",
        "time_s",
        "loss",
        "best_loss",
        "gap",
        "target",
        "epoch",
        "heldout_loss",
        "warmup_s",
        "step_time_s",
        "x0",
        "x1",
        "hp_lr",
    ]
    extra = [c for c in df.columns if c not in columns]
    return df[columns + extra]


def write_study(
    out: Path,
    *,
    name: str = "synthetic",
    problems: Sequence[SyntheticProblem] | None = None,
    optimizers: Sequence[tuple[str, str, float, float]] | None = None,
    seeds: int = 5,
    steps: int = 500,
    checkpoints: int = 30,
    devices: Sequence[str] = ("cpu",),
    label: str | None = None,
    random_state: int = 0,
) -> Path:
    """Write a synthetic study (Parquet part files and meta.json) under `out`.

    Args:
        out: the run directory to create.
        name: the study name.
        problems: the problems (default: all 15 of `DEFAULT_PROBLEMS`).
        optimizers: ``(label, registry name, speed 0..1, lr)`` tuples (default: 5).
        seeds: seeds per cell.
        steps: the step budget.
        checkpoints: number of log-spaced checkpoints.
        devices: the devices (a cell per device).
        label: meta's ``label`` (default: the name).
        random_state: seed of the made-up curves.

    Returns:
        The run directory.
    """
    problems = list(DEFAULT_PROBLEMS if problems is None else problems)
    optimizers = list(DEFAULT_OPTIMIZERS if optimizers is None else optimizers)
    rng = np.random.default_rng(random_state)
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for problem in problems:
        for optimizer in optimizers:
            for device in devices:
                df = _cell_frame(
                    name,
                    problem,
                    optimizer,
                    device=device,
                    seeds=seeds,
                    steps=steps,
                    checkpoints=checkpoints,
                    rng=rng,
                )
                df.to_parquet(parts / f"{df['cell_id'].iloc[0]}.parquet", index=False)
    spec = {
        "name": name,
        "seeds": seeds,
        "steps": steps,
        "devices": list(devices),
        "dtype": "float64",
        "targets": TARGETS,
        "checkpoints": checkpoints,
        "problems": [p.spec for p in problems],
        "optimizers": [o[0] for o in optimizers],
    }
    meta = {
        "study": spec,
        "name": name,
        "command": f"bench run studies/{name}.toml --out {out}",
        "versions": {
            "optbench": "0.1.0",
            "torch": "2.13.0",
            "python": "3.11.7",
            "pandas": pd.__version__,
        },
        "cpu": "Synthetic CPU @ 3.0GHz",
        "gpu": "NVIDIA H200" if "cuda" in devices else None,
        "cuda": "12.8" if "cuda" in devices else None,
        "git_commit": "abc1234",
        "started": "2026-11-30T01:00:00+00:00",
        "finished": "2026-11-30T01:02:03+00:00",
        "wall_s": 123.4,
        "label": label if label is not None else name,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def _main() -> None:  # pragma: no cover - a timing script
    import sys
    import tempfile
    import time

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import reports

    with tempfile.TemporaryDirectory() as tmp:
        run = write_study(Path(tmp) / "quick", name="quick", seeds=10)
        t0, c0 = time.perf_counter(), time.process_time()
        out = reports.write([run], Path(tmp) / "report.html")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = out.stat().st_size
        print(f"default-sized report: {elapsed:.1f} s wall, {cpu:.1f} s CPU, {size / 1e6:.2f} MB")


if __name__ == "__main__":  # pragma: no cover
    _main()
