"""Every spec the docs and `bench list` show works on the command line, as a user would type it.

The examples are read from the files themselves (README.md, docs/STUDY_FORMAT.md,
docs/CATALOGUE.md and the study files they name) and from `bench list`, so a new example in
the docs is tested without new test code:

- inline code spans whose name is a registered problem (``rastrigin:dim=10,instance=3``) or
  optimizer (``adam:lr=3e-4,beta2=0.99``, ``restarts(adam:lr=0.05,n=32)``, ``torch:NAdam``);
- ``bench run ...`` command lines, in shell blocks and in inline spans;
- the TOML blocks of docs/STUDY_FORMAT.md (``problems = [...]``, ``[[optimizer]]`` tables).

Each spec goes through the CLI's study builder (``--problems SPEC`` / ``--optimizers SPEC``:
split, merged, built, validated), and all of them at once through one real ``bench run``
with every spec of a kind joined by commas, which is what splitting has to undo.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

import optimizers
import problems
from bench._cli import _parser, _study_from_args
from bench._cli import main as cli
from bench._study import Study
from problems import SpecError, split_specs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/STUDY_FORMAT.md", "docs/CATALOGUE.md")

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")


def _blocks(text: str) -> tuple[list[tuple[str, str]], str]:
    """Fenced blocks as (language, body), and the text with them removed."""
    return FENCE.findall(text), FENCE.sub("", text)


def _kind(span: str) -> str | None:
    """``"problem"``, ``"optimizer"``, or None for a span that is not a spec."""
    if re.search(r"[\s<>|\"'*$]|\.\.\.", span) or span.endswith(":"):
        return None
    name = span.split(":")[0].split("(")[0]
    if name in problems.PROBLEMS:
        return "problem"
    if name in optimizers.OPTIMIZERS or name in optimizers.WRAPPERS:
        return "optimizer"
    if name == "torch" and re.fullmatch(r"torch:[A-Z]\w*(:.*)?", span):
        return "optimizer"
    return None


def _bench_run_lines(text: str) -> list[str]:
    blocks, prose = _blocks(text)
    lines = [
        line
        for lang, body in blocks
        if lang in ("sh", "bash", "console", "")
        for line in body.splitlines()
    ]
    lines += SPAN.findall(prose)
    commands = [re.split(r"\s#", line)[0].strip() for line in lines]
    return [  # a placeholder (RUN_DIR) is not a command to run as written
        c for c in commands if c.startswith("bench run ") and not re.search(r"\b[A-Z_]{3,}\b", c)
    ]


def _documented() -> dict[str, dict[str, list[str]]]:
    """kind -> spec -> where it is documented (file names, `bench list`)."""
    found: dict[str, dict[str, list[str]]] = {"problem": {}, "optimizer": {}}

    def add(kind: str, spec: str, where: str) -> None:
        found[kind].setdefault(spec, []).append(where)

    for doc in DOCS:
        text = (ROOT / doc).read_text()
        blocks, prose = _blocks(text)
        for span in SPAN.findall(prose):
            if (kind := _kind(span)) is not None:
                add(kind, span, doc)
        for lang, body in blocks:
            if lang == "toml":
                study = Study.from_dict(tomllib.loads(body), source=doc)
                for spec in study.problems:
                    add("problem", spec, doc)
                for spec in study.optimizers:
                    add("optimizer", spec, doc)
        for line in _bench_run_lines(text):
            args = shlex.split(line)[2:]
            for flag, kind in (("--problems", "problem"), ("--optimizers", "optimizer")):
                if flag in args:
                    for spec in split_specs(args[args.index(flag) + 1]):
                        add(kind, spec, f"{doc} (bench run)")
    from bench._listing import optimizer_rows, problem_rows

    for row in problem_rows():
        add("problem", str(row["name"]), "bench list")
    for row in optimizer_rows():
        add("optimizer", str(row["spec"]), "bench list --optimizers")
    return found


DOCUMENTED = _documented()
CASES = [(kind, spec) for kind, specs in DOCUMENTED.items() for spec in specs]
COMMANDS = sorted({line for doc in DOCS for line in _bench_run_lines((ROOT / doc).read_text())})


def test_the_docs_hold_the_examples_the_issue_names() -> None:
    """The extraction finds what a newcomer reads first (so an empty list cannot pass)."""
    assert "rastrigin:dim=10,instance=3" in DOCUMENTED["problem"]
    assert "adam:lr=3e-4,beta2=0.99" in DOCUMENTED["optimizer"]
    assert "restarts(adam:lr=0.05,n=32)" in DOCUMENTED["optimizer"]
    assert set(problems.PROBLEMS.names()) <= set(DOCUMENTED["problem"])
    assert any(c.startswith("bench run --problems") for c in COMMANDS)
    assert len(CASES) > 60


@pytest.mark.parametrize(("kind", "spec"), CASES, ids=[f"{k}:{s}" for k, s in CASES])
def test_documented_spec_builds_through_the_cli(kind: str, spec: str) -> None:
    other = {"problem": ("--optimizers", "sgd"), "optimizer": ("--problems", "sphere")}[kind]
    args = _parser().parse_args(["run", f"--{kind}s", spec, *other, "--steps", "1"])
    study = _study_from_args(args)  # split, merged, built and validated as `bench run` does
    assert getattr(study, f"{kind}s") == (spec,), DOCUMENTED[kind][spec]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["problem", "optimizer"])
def test_every_documented_spec_of_a_kind_runs_in_one_list(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All documented specs joined by commas, as one ``--problems``/``--optimizers`` value."""
    specs = list(DOCUMENTED[kind])
    other = {"problem": ("--optimizers", "sgd"), "optimizer": ("--problems", "sphere")}[kind]
    out = tmp_path / "run"
    argv = ["run", f"--{kind}s", ",".join(specs), *other, "--seeds", "1", "--steps", "1"]
    assert cli([*argv, "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["study"][f"{kind}s"] == specs
    assert len(list((out / "parts").glob("*.parquet"))) == len(specs)


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_bench_run_command_works(command: str, tmp_path: Path) -> None:
    """Each ``bench run`` line of the docs, as written; flag lines run with a budget of one
    step and one seed, a study file is built and validated."""
    args = shlex.split(command)[2:]
    study = [a for a in args if a.endswith(".toml")]
    if study:
        built = Study.from_toml(ROOT / study[0])
        assert built.cells()
        return
    argv = ["run", *args, "--seeds", "1", "--steps", "1", "--out", str(tmp_path), "--quiet"]
    assert cli(argv) == 0


@pytest.mark.parametrize(
    ("text", "specs"),
    [
        ("rastrigin:dim=10,instance=3", ["rastrigin:dim=10,instance=3"]),
        ("adam:lr=3e-4,beta2=0.99,sgd", ["adam:lr=3e-4,beta2=0.99", "sgd"]),
        ("sphere,dim=5", ["sphere:dim=5"]),
        ("restarts(adam:lr=0.05,n=32),adam", ["restarts(adam:lr=0.05,n=32)", "adam"]),
        ("torch:NAdam,lr=0.01,sgd:lr=1", ["torch:NAdam:lr=0.01", "sgd:lr=1"]),
        ("torch:NAdam:lr=0.01,betas=0.8", ["torch:NAdam:lr=0.01,betas=0.8"]),
        (" rosenbrock , levy:dim=5 ,instance=1", ["rosenbrock", "levy:dim=5,instance=1"]),
    ],
)
def test_split_specs_joins_options_to_the_spec_before(text: str, specs: list[str]) -> None:
    assert split_specs(text) == specs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dim=10,rastrigin", "starts with the option 'dim=10'"),
        ("restarts(adam),n=4", "go inside its parentheses, e.g. 'restarts(adam,n=4)'"),
        ("restarts(adam", "unbalanced '('"),
    ],
)
def test_split_specs_bad_lists(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        split_specs(text)


def test_a_list_starting_with_an_option_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--problems", "dim=10,rastrigin", "--optimizers", "sgd", "--steps", "1"]
    assert cli([*argv, "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "starts with the option 'dim=10'" in err
