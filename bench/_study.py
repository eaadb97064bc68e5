"""Study specs: problems x optimizer configurations x seeds x budget x devices.

A study comes from a TOML file (`Study.from_toml`) or from command-line flags; every cell
(problem, optimizer configuration, device) has a stable id, a hash of its spec, so resuming
skips finished cells and a changed spec is a new cell.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import KW_ONLY, asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

import optimizers
import problems
from bench._plugins import resolve_plugins
from problems import DEFAULT_TARGETS, OptbenchError, Spec, SpecError, closest, split_specs

if TYPE_CHECKING:  # the class's fields `problems` and `optimizers` shadow the modules
    from bench._resources import MemoryLimit
    from optimizers import Method
    from problems import Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DEFAULT_TARGETS", "Cell", "Study"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}
KEYS = {
    "name",
    "seeds",
    "steps",
    "evals",
    "epochs",
    "seconds",
    "devices",
    "device",
    "dtype",
    "targets",
    "checkpoints",
    "problems",
    "optimizers",
    "problem",
    "optimizer",
    "warmup",
    "description",
    "start",
    "compile",
    "plugins",
    "pairs",
}
STARTS = ("default", "uniform")


@dataclass(frozen=True)
class Cell:
    """One (problem, optimizer configuration, device) of a study; all seeds run as rows."""

    problem: str
    optimizer: str
    device: str
    study: Study

    @property
    def id(self) -> str:
        """A stable hash of everything that determines the cell's numbers."""
        s = self.study
        key = {
            "problem": self.problem,
            "optimizer": self.optimizer,
            "device": self.device,
            "seeds": list(s.seeds),
            "steps": s.steps,
            "evals": s.evals,
            "epochs": s.epochs,
            "seconds": s.seconds,
            "dtype": s.dtype,
            "targets": list(s.targets),
            "checkpoints": s.checkpoints,
            "start": s.start,
        }
        if s.compile != "auto":  # the default leaves the ids of existing studies as they were
            key["compile"] = s.compile
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", f"{self.problem}__{self.optimizer}")[:60]
        return f"{slug}__{self.device}__{digest}"


@dataclass(frozen=True)
class Study:
    """A study spec. Budgets: `steps`, `evals` (per seed, all restarts counted), `epochs`
    (ML problems) and/or `seconds` (per cell); the tightest applies.

    Built once from its sources (`from_toml`, with command-line overrides merged as data
    first, or `from_dict`); each problem and method is built once, on first use (`problem`,
    `method`; `validate` builds them all), and reused by every cell on this process.

    ``plugins``: files (``my_plugin.py``) and modules (``mypkg.plugin``) that register
    problems and optimizers (`bench._plugins`); `validate` imports them (once per process)
    before it builds any name, and so does every ``--workers`` process.

    ``start``: ``"default"`` (each problem's start rule: the literature's fixed start where
    there is one) or ``"uniform"`` (sample the domain); unset, it is ``"uniform"`` for more
    than one seed, so that seeds are distinct runs, and ``"default"`` for one.

    ``pairs``: extra (problem, optimizer) cells beyond the cross product, such as the tuned
    settings `bench run --tuned` adds next to each default (one tuned setting per problem).

    Problems and optimizers are positional, everything else keyword-only. The sequences also
    take the spellings of a study file: ``seeds=20`` is seeds 0..19, a list is kept as a
    tuple, and ``problems="rosenbrock,rastrigin:dim=10,instance=3"`` is split as
    ``--problems`` is (`problems.split_specs`).

    Example:
        >>> study = Study("sphere:dim=3", ["adam:lr=0.1"], seeds=2, steps=10)
        >>> study.seeds, study.problems
        ((0, 1), ('sphere:dim=3',))
        >>> study.problem("sphere:dim=3") is study.problem("sphere:dim=3")  # built once
        True
    """

    problems: tuple[str, ...]
    optimizers: tuple[str, ...]
    _: KW_ONLY
    name: str = "study"
    seeds: tuple[int, ...] = tuple(range(10))
    steps: int | None = None
    evals: int | None = None
    epochs: int | None = None
    seconds: float | None = None
    devices: tuple[str, ...] = ("cpu",)
    dtype: str = "float64"
    targets: tuple[float, ...] = DEFAULT_TARGETS
    checkpoints: int = 30
    warmup: int = 2
    start: str | None = None
    compile: bool | str = "auto"
    plugins: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        _normalise(self, where)
        if self.start is None:  # distinct seeds by default: one seed keeps the literature start
            self.__dict__["start"] = "uniform" if len(self.seeds) > 1 else "default"
        self.__dict__["_built"] = {}  # spec -> built problem or method (not a field)
        if not self.problems or not self.optimizers:
            msg = f"{where}a study needs at least one problem and one optimizer"
            raise SpecError(msg)
        for kind, specs in (("problem", self.problems), ("optimizer", self.optimizers)):
            if twice := next((s for i, s in enumerate(specs) if s in specs[:i]), None):
                msg = f"{where}{kind} {twice!r} is listed twice (a cell is run once)"
                raise SpecError(msg)
        if self.steps is None and self.evals is None and self.epochs is None:
            msg = f"{where}no budget: give steps, evals or epochs"
            raise SpecError(msg)
        for key in ("steps", "evals", "epochs", "checkpoints"):
            value = getattr(self, key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                msg = f"{where}{key} must be a positive integer, got {value!r}"
                raise SpecError(msg)
        if self.seconds is not None and not self.seconds > 0:
            msg = f"{where}seconds must be > 0, got {self.seconds!r}"
            raise SpecError(msg)
        if self.dtype not in DTYPES:
            msg = f"{where}dtype {self.dtype!r} is not supported; allowed: {', '.join(DTYPES)}"
            raise SpecError(msg)
        if any(not (isinstance(t, (int, float)) and t > 0) for t in self.targets):
            msg = f"{where}targets must be positive numbers, got {list(self.targets)}"
            raise SpecError(msg)
        for device in self.devices:
            _check_device(device, where)
        if self.start not in STARTS:
            msg = f"{where}start {self.start!r} is not supported; allowed: {', '.join(STARTS)}"
            raise SpecError(msg)
        if not any(self.compile is c for c in (True, False)) and self.compile != "auto":
            msg = f'{where}compile must be true, false or "auto", got {self.compile!r}'
            raise SpecError(msg)

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the built values (worker processes build their own)."""
        return {k: v for k, v in self.__dict__.items() if k != "_built"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, _built={})

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def cells(self) -> list[Cell]:
        cells = [
            Cell(p, o, d, self)
            for p in self.problems
            for o in self.optimizers
            for d in self.devices
        ]
        crossed = {(c.problem, c.optimizer) for c in cells}
        extra = [(p, o) for p, o in dict.fromkeys(self.pairs) if (p, o) not in crossed]
        return cells + [Cell(p, o, d, self) for p, o in extra for d in self.devices]

    def problem(self, spec: str) -> Problem:
        """The problem of `spec` (one of `problems`), built on first use and kept."""
        built = self.__dict__["_built"]
        key = ("problem", spec)
        if key not in built:
            built[key] = problems.get(spec)
        return built[key]  # type: ignore[no-any-return]

    def method(self, spec: str) -> Method:
        """The method of `spec` (one of `optimizers`), built on first use and kept."""
        built = self.__dict__["_built"]
        key = ("method", spec)
        if key not in built:
            built[key] = optimizers.method(spec)
        return built[key]  # type: ignore[no-any-return]

    def repeated_cells(self) -> list[Cell]:
        """The cells whose seeds are all the same run: a deterministic problem started at its
        literature's fixed point (``start = "default"``) by a method without its own start
        rule. Their summaries count one distinct run; ``start = "uniform"`` samples instead.
        """
        if self.start != "default" or len(self.seeds) < 2:
            return []
        return [
            cell
            for cell in self.cells()
            if (problem := self.problem(cell.problem)).x0 is not None
            and problem.stream is None
            and self.method(cell.optimizer).info.starts is None
        ]

    def validate(self, text: str | None = None, *, memory: bool | MemoryLimit = True) -> None:
        """Build every problem and method once, so bad names fail before anything runs.

        The methods are built first; then each cell's memory is estimated from the specs and
        checked (`bench._resources.check_study`) before any problem is built: a problem of
        10^8 dimensions takes seconds and gigabytes to build, so a study that cannot fit is
        refused at once.

        Args:
            text: the study file's text, so that an error names the line holding the spec.
            memory: True checks against this machine, a `MemoryLimit` against the machines
                the cells run on (a Dask cluster's smallest worker), False not at all.
        """
        from bench._plugins import load_plugins

        load_plugins(self.plugins)  # plugins register names the specs may use
        for spec in (*self.optimizers, *(o for _, o in self.pairs)):
            self._build(spec, self.method, text)
        if memory is not False:
            from bench._resources import check_study

            for spec in self.problems:  # names and values before sizes
                self._check_problem_spec(spec, text)
            if memory is True:
                check_study(self)
            else:
                check_study(self, host_limit=memory.host, where=memory.where)
        for spec in (*self.problems, *(p for p, _ in self.pairs)):
            self._build(spec, self.problem, text)

    def _build(self, spec: str, build: Callable[[str], object], text: str | None) -> None:
        try:
            build(spec)
        except OptbenchError as error:
            raise type(error)(f"{self._where(spec, text)}{error}") from None

    def _check_problem_spec(self, spec: str, text: str | None) -> None:
        """The name and option names of a problem spec, without building it."""
        from bench._resources import spec_dim

        try:
            spec_dim(spec)
        except OptbenchError as error:
            raise type(error)(f"{self._where(spec, text)}{error}") from None

    def _where(self, spec: str, text: str | None) -> str:
        """``"<file>:<line>: "`` for a spec written in the study file (`text`), ``"command line:
        "`` for one that is not (it came from a flag), ``"<source>: "`` without a file."""
        if self.source is None:
            return ""
        if text is None:
            return f"{self.source}: "
        for number, line in enumerate((text or "").splitlines(), 1):
            if f'"{spec}"' in line or f"'{spec}'" in line:
                return f"{self.source}:{number}: "
        name = spec.split(":")[0].split("(")[0].strip()
        for number, line in enumerate((text or "").splitlines(), 1):  # a [[table]]'s name
            if re.match(rf"""\s*name\s*=\s*["']{re.escape(name)}["']""", line):
                return f"{self.source}:{number}: "
        return "command line: "

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("source")
        if not data["plugins"]:  # a study without plugins keeps the meta.json it had
            data.pop("plugins")
        if not self.pairs:  # absent unless used: meta.json of existing runs stays equal
            data.pop("pairs")
        else:
            data["pairs"] = [list(p) for p in self.pairs]
        data = {"name": data.pop("name"), **data}  # the name first, as in a study file
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, source: str | None = None) -> Study:
        """A study from a mapping: a study file's tables, or meta.json's ``"study"``.

        Keys are those of a study file (docs/STUDY_FORMAT.md); an unknown key fails with the
        closest known one. Names are not built here: `validate` (or the first cell) does it.
        """
        where = f"{source}: " if source else ""
        unknown = set(data) - KEYS
        if unknown:
            key = sorted(unknown)[0]
            near = closest(key, KEYS)
            hint = f" (did you mean {near!r}?)" if near else ""
            msg = f"{where}unknown key {key!r}{hint}; allowed: {', '.join(sorted(KEYS))}"
            raise SpecError(msg)
        return cls(
            name=str(data.get("name", "study")),
            problems=_specs(data.get("problems", []), data.get("problem", []), where),
            optimizers=_specs(data.get("optimizers", []), data.get("optimizer", []), where),
            seeds=data.get("seeds", 10),  # type: ignore[arg-type]
            steps=data.get("steps"),  # type: ignore[arg-type]
            evals=data.get("evals"),  # type: ignore[arg-type]
            epochs=data.get("epochs"),  # type: ignore[arg-type]
            seconds=data.get("seconds"),  # type: ignore[arg-type]
            devices=data.get("devices", data.get("device", ("cpu",))),  # type: ignore[arg-type]
            dtype=str(data.get("dtype", "float64")),
            targets=data.get("targets", DEFAULT_TARGETS),  # type: ignore[arg-type]
            checkpoints=data.get("checkpoints", 30),  # type: ignore[arg-type]
            warmup=int(data.get("warmup", 2)),  # type: ignore[call-overload]
            start=data.get("start"),  # type: ignore[arg-type]
            compile=data.get("compile", "auto"),  # type: ignore[arg-type]
            plugins=_plugin_list(data.get("plugins", ()), where),
            pairs=_pairs(data.get("pairs", ()), where),
            source=source,
        )

    @classmethod
    def from_toml(
        cls,
        path: str | Path,
        overrides: Mapping[str, object] | None = None,
        *,
        memory: bool | MemoryLimit = True,
    ) -> Study:
        """Read a study file, merge `overrides` (the command line's flags) into its data, build
        the study once and validate its names (and, with `memory`, each cell's memory:
        `validate`).

        Errors name the file and, where it can be found, the line; an error in an overridden
        key names the command line instead.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            msg = f"cannot read study file {path}: {error.strerror}"
            raise SpecError(msg) from None
        except UnicodeDecodeError as error:
            msg = f"{path}: not UTF-8 text (byte {error.start}); a study file is TOML"
            raise SpecError(msg) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SpecError(_toml_error(path, error)) from None
        overrides = dict(overrides or {})
        if "plugins" in data:  # relative to the file; the command line's add up with them
            try:
                data["plugins"] = resolve_plugins(_plugin_list(data["plugins"], ""), path.parent)
            except SpecError as error:
                raise SpecError(_with_line(f"{path}: {error}", str(path), text)) from None
        if overrides.get("plugins") is not None:
            flags = _plugin_list(overrides["plugins"], "command line (--plugin): ")
            overrides["plugins"] = (*data.get("plugins", ()), *flags)
        if overrides.get("problems") is not None:
            data.pop("problem", None)  # --problems replaces both spellings of the file's list
        if overrides.get("optimizers") is not None:
            data.pop("optimizer", None)
        data.update(overrides)
        try:
            study = cls.from_dict(data, source=str(path))
        except SpecError as error:
            raise SpecError(_with_line(str(error), str(path), text, set(overrides))) from None
        study.validate(text, memory=memory)
        return study


def _toml_error(path: Path, error: Exception) -> str:
    r"""``file:line:column: invalid TOML: <what>`` from tomllib's ``... (at line L, column C)``.

    Example:
        >>> try:
        ...     tomllib.loads("steps = [1,\nname = 'x'")
        ... except tomllib.TOMLDecodeError as error:
        ...     print(_toml_error(Path("s.toml"), error))
        s.toml:2:1: invalid TOML: Invalid value
    """
    text = str(error)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if found is None:
        return f"{path}: invalid TOML: {text}"
    return f"{path}:{found[1]}:{found[2]}: invalid TOML: {text[: found.start()]}"


def _normalise(study: Study, where: str) -> None:
    """Sequences as tuples: a seed count becomes its range, a spec list string is split."""
    seeds = study.seeds
    if isinstance(seeds, bool) or (isinstance(seeds, int) and seeds < 1):
        msg = f"{where}seeds must be a positive count or a non-empty list, got {seeds!r}"
        raise SpecError(msg)
    values = {
        "seeds": tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds),
        "problems": _spec_tuple(study.problems),
        "optimizers": _spec_tuple(study.optimizers),
        "devices": (
            tuple(study.devices.split(","))
            if isinstance(study.devices, str)
            else tuple(study.devices)
        ),
        "targets": tuple(study.targets),
        "plugins": resolve_plugins(_plugin_list(study.plugins, where)),
        "pairs": tuple((str(p), str(o)) for p, o in study.pairs),
    }
    if not values["seeds"]:
        msg = f"{where}seeds must be a positive count or a non-empty list, got []"
        raise SpecError(msg)
    if any(isinstance(s, bool) or not isinstance(s, int) for s in values["seeds"]):
        msg = f"{where}seeds must be integers, got {list(values['seeds'])}"
        raise SpecError(msg)
    study.__dict__.update(values)


def _spec_tuple(specs: object) -> tuple[str, ...]:
    if isinstance(specs, str):
        return tuple(split_specs(specs))
    return tuple(specs)  # type: ignore[arg-type]


def _with_line(message: str, source: str, text: str, overridden: Collection[str] = ()) -> str:
    """Point `message` (``"<source>: <key> ..."``) at the line of `text` that sets the key.

    A key that came from the command line (in `overridden`) has no line in the file: the
    message then names the command line.
    """
    prefix = f"{source}: "
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix) :]
    words = re.findall(r"[A-Za-z_]+", rest.replace("unknown key", ""))
    for key in [w for w in words if w in KEYS][:1] + re.findall(r"'([^']+)'", rest)[:1]:
        if key in overridden:
            return f"command line (--{key}): {rest}"
        for number, line in enumerate(text.splitlines(), 1):
            if re.match(rf"\s*{re.escape(key)}\s*=", line):
                return f"{source}:{number}: {rest}"
    return message


def _plugin_list(value: object, where: str) -> tuple[str, ...]:
    """A study's ``plugins``: a list of file paths and module names."""
    if isinstance(value, (str, Path)):
        value = [value]
    if isinstance(value, (list, tuple)):
        value = [str(v) if isinstance(v, Path) else v for v in value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = (
            f"{where}plugins must be a list of files or modules "
            f"(['my_plugin.py', 'mypkg.plugin']), got {value!r}"
        )
        raise SpecError(msg)
    return tuple(value)


def _check_device(device: str, where: str) -> None:
    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        msg = f"{where}unknown device {device!r}; allowed: cpu, cuda, mps"
        raise SpecError(msg)
    if kind == "cuda" and not torch.cuda.is_available():
        msg = f"{where}device {device!r} asked for, but torch sees no CUDA device here"
        raise SpecError(msg)
    if kind == "mps" and not torch.backends.mps.is_available():
        msg = f"{where}device {device!r} asked for, but MPS is not available here"
        raise SpecError(msg)


def _pairs(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """``pairs`` as (problem, optimizer) tuples: a list of two-string lists."""
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if not (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and all(isinstance(x, str) for x in item)
        ):
            msg = f"{where}pairs must be [problem, optimizer] lists of spec strings, got {item!r}"
            raise SpecError(msg)
        out.append((str(item[0]), str(item[1])))
    return tuple(out)


def _specs(strings: object, tables: object, where: str) -> tuple[str, ...]:
    """Spec strings from a list of strings and a list of TOML tables (``name`` + options)."""
    out = []
    for item in strings if isinstance(strings, list) else [strings]:
        if not isinstance(item, str):
            msg = f"{where}expected spec strings such as 'adam:lr=1e-3', got {item!r}"
            raise SpecError(msg)
        out.append(item)
    for table in tables if isinstance(tables, list) else [tables]:
        if not isinstance(table, dict) or "name" not in table:
            msg = f"{where}each [[problem]]/[[optimizer]] table needs a name, got {table!r}"
            raise SpecError(msg)
        options = {k: v for k, v in table.items() if k != "name"}
        out.append(str(Spec(str(table["name"]), options)))
    return tuple(out)


def budget_steps(study: Study, problem: problems.Problem, method: optimizers.Method) -> int:
    """The step budget of a cell: the tightest of steps, evals and epochs."""
    limits = []
    if study.steps is not None:
        limits.append(study.steps)
    if study.evals is not None:
        per_step = method.info.starts_per_seed * method.info.evals_per_step
        limits.append(max(1, study.evals // per_step))
    if study.epochs is not None:
        if problem.steps_per_epoch is None:
            msg = f"{problem.spec}: an epochs budget needs a problem with epochs (an ML problem)"
            raise SpecError(msg)
        limits.append(study.epochs * problem.steps_per_epoch)
    return min(limits) if limits else math.inf  # type: ignore[return-value]
