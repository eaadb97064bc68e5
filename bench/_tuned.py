"""``tuned.toml``: the best settings a tuning run found, and `bench run --tuned` reading them.

`write_tuned` writes one ``[[tuned]]`` table per (problem, optimizer) with the setting found
(``setting``, a spec string that rebuilds it, and ``params``) and what finding it cost:
trials (complete, pruned), evaluations, wall time and the tuning seeds. `apply_tuned` adds
each setting to a study as its own cell next to the default (``Study.pairs``), on
evaluation seeds disjoint from the tuning seeds; `tuned_meta` is what meta.json records.

Example file::

    objective = "final"
    tuning_seeds = [1000, 1001, 1002]

    [[tuned]]
    problem = "rosenbrock"
    optimizer = "adam:lr=0.05"
    setting = "adam:lr=0.0123"
    params = { lr = 0.0123 }
    trials = 32
    evals = 96000.0
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench._study import Study
from problems import Spec, SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "TUNING_SEED_BASE",
    "apply_tuned",
    "copy_trials",
    "evaluation_seeds",
    "load_tuned",
    "record_tuned",
    "setting_spec",
    "tuned_meta",
    "write_tuned",
]

TUNING_SEED_BASE = 1000
"""`bench tune`'s seeds are 1000, 1001, ...: disjoint from a study's usual 0..n-1."""


def setting_spec(spec: str, params: Mapping[str, float]) -> str:
    """`spec` with `params` set on its optimizer (inside a wrapper, on the inner one).

    Example:
        >>> setting_spec("restarts(adam:lr=0.05,n=8)", {"lr": 0.01})
        'restarts(adam:lr=0.01,n=8)'
    """
    import optimizers

    parsed = optimizers.parse(spec)
    if parsed.name in optimizers.WRAPPERS and len(parsed.inner) == 1:
        inner = optimizers.parse(parsed.inner[0])
        tuned = Spec(inner.name, {**inner.options, **params}, inner.inner)
        return str(Spec(parsed.name, parsed.options, (tuned,)))
    return str(Spec(parsed.name, {**parsed.options, **params}, parsed.inner))


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    msg = f"cannot write {v!r} to TOML"
    raise TypeError(msg)


def write_tuned(
    path: Path, header: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> Path:
    """Write ``tuned.toml``: `header`'s keys, then one ``[[tuned]]`` table per entry."""
    lines = ["# written by `bench tune`; `bench run STUDY --tuned THIS_FILE` evaluates it"]
    lines += [f"{k} = {_value(v)}" for k, v in header.items()]
    for entry in entries:
        lines += ["", "[[tuned]]", *(f"{k} = {_value(v)}" for k, v in entry.items())]
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def load_tuned(path: str | Path) -> dict[str, Any]:
    """Read a ``tuned.toml``; a missing, unparsable or entry-less file is a `SpecError`."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        msg = f"--tuned {path}: cannot read it ({error.strerror})"
        raise SpecError(msg) from None
    except tomllib.TOMLDecodeError as error:
        msg = f"--tuned {path}: invalid TOML: {error}"
        raise SpecError(msg) from None
    entries = data.get("tuned")
    if not isinstance(entries, list) or not entries:
        msg = f"--tuned {path}: no [[tuned]] tables (write one with bench tune STUDY.toml)"
        raise SpecError(msg)
    for entry in entries:
        missing = [k for k in ("problem", "optimizer", "setting") if k not in entry]
        if missing:
            msg = f"--tuned {path}: a [[tuned]] table lacks {', '.join(missing)}"
            raise SpecError(msg)
    data["path"] = str(path)
    return data


def evaluation_seeds(seeds: Sequence[int], tuning: Sequence[int]) -> tuple[int, ...]:
    """`seeds` when none was a tuning seed, else as many seeds after the last tuning seed.

    Example:
        >>> evaluation_seeds([0, 1, 2], [1000, 1001])
        (0, 1, 2)
        >>> evaluation_seeds([1000, 1001], [1000, 1001])
        (1002, 1003)
    """
    if not set(seeds) & set(tuning):
        return tuple(seeds)
    start = max(tuning) + 1
    return tuple(range(start, start + len(seeds)))


def apply_tuned(study: Study, tuned: Mapping[str, Any]) -> tuple[Study, list[dict[str, Any]]]:
    """`study` with a cell per tuned setting of its (problem, optimizer) pairs, on fresh seeds.

    Returns the new study and the entries used. Entries for pairs the study does not have
    are left out; a study that has none of them is a `SpecError`.
    """
    tuning = [int(s) for s in tuned.get("tuning_seeds", [])]
    used = [
        dict(e)
        for e in tuned["tuned"]
        if e["problem"] in study.problems and e["optimizer"] in study.optimizers
    ]
    if not used:
        pairs = ", ".join(f"{e['problem']} x {e['optimizer']}" for e in tuned["tuned"][:3])
        msg = (
            f"--tuned {tuned['path']}: none of its settings ({pairs}, ...) is for this study's "
            "problems and optimizers; tune this study with bench tune STUDY.toml"
        )
        raise SpecError(msg)
    for entry in used:
        tuning += [int(s) for s in entry.get("seeds", [])]
    cells = tuple((str(e["problem"]), str(e["setting"])) for e in used)
    seeds = evaluation_seeds(study.seeds, sorted(set(tuning)))
    new = dataclasses.replace(study, pairs=cells, seeds=seeds)
    new.validate()
    return new, used


def tuned_meta(
    study: Study, tuned: Mapping[str, Any], used: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """meta.json's ``"tuned"``: where the settings came from, the seeds, and each entry."""
    tuning = sorted(
        {int(s) for e in used for s in e.get("seeds", [])} | set(tuned.get("tuning_seeds", []))
    )
    return {
        "file": str(tuned["path"]),
        "objective": tuned.get("objective"),
        "tuning_seeds": tuning,
        "evaluation_seeds": list(study.seeds),
        "disjoint": not set(tuning) & set(study.seeds),
        "note": "evaluated on fresh seeds, not the tuning seeds",
        "entries": [dict(e) for e in used],
    }


def copy_trials(tuned: Mapping[str, Any], run_dir: Path) -> Path | None:
    """Copy the tuning run's ``trials.parquet`` (next to the tuned.toml) into
    ``<run_dir>/tuning/``, so the run directory holds everything its report shows."""
    source = Path(tuned["path"]).parent / "trials.parquet"
    if not source.exists():
        return None
    folder = run_dir / "tuning"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / "trials.parquet")
    shutil.copyfile(tuned["path"], folder / "tuned.toml")
    return folder / "trials.parquet"


def record_tuned(
    study: Study, tuned: Mapping[str, Any], used: Sequence[Mapping[str, Any]], run_dir: Path
) -> None:
    """After a ``--tuned`` run: meta.json's ``"tuned"`` and the trials in ``tuning/``."""
    from bench._store import load_meta, write_meta

    meta = load_meta(run_dir)
    meta["tuned"] = tuned_meta(study, tuned, used)
    trials = copy_trials(tuned, run_dir)
    meta["tuned"]["trials"] = str(trials.relative_to(run_dir)) if trials else None
    write_meta(run_dir, meta)
