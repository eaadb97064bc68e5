"""The notebook API: ``bench.run(problems=[...], optimizers=[...])`` -> the tidy table.

Example:
    >>> import bench, reports
    >>> table = bench.run(problems=["rosenbrock"], optimizers=["adam:lr=0.01"], seeds=3,
    ...                   steps=100)                                        # doctest: +SKIP
    >>> table.groupby("optimizer")["gap"].min()                             # doctest: +SKIP
    >>> reports.build_report(table)   # shows the summary table inline in Jupyter  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run"]

DEFAULT_STEPS = 1000
"""Steps when no budget is given (as ``bench run`` without a study file)."""


def run(
    problems: Sequence[str] | str,
    optimizers: Sequence[str] | str,
    *,
    seeds: int | Sequence[int] = 10,
    steps: int | None = None,
    evals: int | None = None,
    epochs: int | None = None,
    seconds: float | None = None,
    devices: Sequence[str] | str = ("cpu",),
    dtype: str = "float64",
    start: str | None = None,
    plugins: Sequence[str] = (),
    out: str | Path | None = None,
    workers: int = 1,
    name: str = "notebook",
    record: str | None = "checkpoint",
) -> pd.DataFrame:
    """Run a study in this process and return its tidy results table.

    The table is the one ``reports.load`` reads from a run directory (docs/RESULTS.md): one
    row per (cell, seed, checkpoint) for the default `record`. Nothing is left on disk
    unless `out` names a run directory (then the run is also resumable and
    ``bench show``/``bench report`` read it); without one the run goes to a temporary
    directory that is removed before returning.

    Args:
        problems: problem specs (``"rastrigin:dim=10"``), a list or one comma-separated string.
        optimizers: optimizer specs (``"adam:lr=0.01"``, ``"restarts(adam,n=8)"``).
        seeds: a count (seeds 0..n-1) or the seeds themselves.
        steps, evals, epochs, seconds: budgets (the tightest applies); with none,
            `DEFAULT_STEPS` steps.
        devices: ``"cpu"``, ``"cuda"``, ...
        dtype: ``"float64"`` or ``"float32"``.
        start: ``"uniform"`` or ``"default"`` (see docs/STUDY_FORMAT.md).
        plugins: plugin files or modules to import first (`bench._plugins`).
        out: a run directory to keep the results in.
        workers: cells in parallel processes.
        name: the study's name (meta.json).
        record: the record kind to return (``"checkpoint"``, ``"target"``, ...; None: all).

    Returns:
        The results table; ``table.attrs["run_dir"]`` is `out` (None without one) and
        ``table.attrs["meta"]`` the run's meta.json.

    Raises:
        SpecError: a bad name or value (one line, as on the command line).
    """
    import reports
    from bench._runner import run_study
    from bench._study import Study

    if steps is None and evals is None and epochs is None:
        steps = DEFAULT_STEPS
    study = Study(
        tuple(problems) if not isinstance(problems, str) else problems,  # type: ignore[arg-type]
        tuple(optimizers) if not isinstance(optimizers, str) else optimizers,  # type: ignore[arg-type]
        name=name,
        seeds=seeds,  # type: ignore[arg-type]
        steps=steps,
        evals=evals,
        epochs=epochs,
        seconds=seconds,
        devices=devices,  # type: ignore[arg-type]
        dtype=dtype,
        start=start,
        plugins=tuple(plugins),
    )
    study.validate()
    with tempfile.TemporaryDirectory(prefix="optbench-") as tmp:
        run_dir = Path(out) if out is not None else Path(tmp) / name
        run_study(study, run_dir, workers=workers, quiet=True)
        table = reports.load(run_dir, record=record)  # the reading side's own table
        table.attrs["meta"] = reports.load_meta(run_dir)
        table.attrs["run_dir"] = run_dir if out is not None else None
    return table
