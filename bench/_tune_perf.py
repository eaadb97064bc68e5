"""The batched-trials benchmark of docs/PERFORMANCE.md: K trials as one tensor against the
same trials one at a time, side by side in one process.

    python -m bench._tune_perf            # 64 trials, Rosenbrock, Adam, 10 seeds, 1000 steps
    python -m bench._tune_perf --quick    # 16 trials, 200 steps

Both modes run `bench._tune.tune` with the same sampler (TPE, seed 0, ``constant_liar``), no
pruner and Optuna's in-memory storage, so the ratio is the harness's: one step loop for
K x seeds rows against K step loops of `seeds` rows. The sampler's own time (TPE's
proposals, the same number of them in both modes) is included in both.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

__all__ = ["measure"]


def measure(trials: int = 64, seeds: int = 10, steps: int = 1000) -> dict[str, float]:
    """Seconds for `trials` trials batched (K = trials) and one at a time, and the ratio."""
    import optuna

    from bench._study import Study
    from bench._tune import tune
    from bench._tune_space import search_space
    from bench._tune_storage import open_storage
    from bench._tune_trials import TuneTask

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = Study(("rosenbrock",), ("adam",), seeds=tuple(range(1000, 1000 + seeds)), steps=steps,
                  checkpoints=10, targets=())  # fmt: skip
    task = TuneTask(study, "final", 1e-6)
    space = search_space("adam")
    out: dict[str, float] = {"trials": trials, "seeds": seeds, "steps": steps}
    for name, batch in (("batched_s", trials), ("one_at_a_time_s", 1)):
        begin = time.perf_counter()
        result = tune(task, space, open_storage("memory"), trials=trials, batch=batch,
                      study_name=name, sampler="tpe", sampler_seed=0, pruner="none")  # fmt: skip
        out[name] = time.perf_counter() - begin
        out[name.replace("_s", "_best")] = result.best_value
    out["speedup"] = out["one_at_a_time_s"] / out["batched_s"]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 trials of 200 steps")
    args = parser.parse_args(argv)
    result = measure(16, 10, 200) if args.quick else measure()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
