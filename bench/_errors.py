"""How the command line reports an error: one line on stderr and an exit code.

Exit codes: 2 for bad input (an `OptbenchError`: a bad spec, value or file, a run directory
that cannot be written, a study that cannot fit in memory) and for the environment refusing
a write (an ``OSError``: a full disk, a read-only file system); 130 for Ctrl-C, with the
command that resumes the run; 1 for anything else, an internal error, with a hint to run
again with ``--debug``, which shows the traceback instead (`bench._cli.main`). A study that
finishes with failed runs exits 1 on its own (`bench._cli`).
"""

from __future__ import annotations

import sys

from problems import OptbenchError

__all__ = ["one_line", "report"]


def one_line(text: object) -> str:
    """`text` on one line: its lines joined by `` / `` and cut at 500 characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " / ".join(lines)[:500]


def report(error: BaseException, prog: str, *, resume: str | None = None) -> int:
    """Print `error` as one line prefixed by `prog` and return the exit code."""
    from bench._runner import StudyInterrupted

    if isinstance(error, StudyInterrupted):
        where = f" in {error.run_dir}" if error.finished else ""
        hint = f"; resume with: {resume}" if resume else ""
        print(
            f"{prog}: interrupted: {error.finished} of {error.cells} cells finished and kept"
            f"{where}{hint}",
            file=sys.stderr,
        )
        return 130
    if isinstance(error, KeyboardInterrupt):
        hint = f"; resume with: {resume}" if resume else ""
        print(f"{prog}: interrupted; finished cells are kept{hint}", file=sys.stderr)
        return 130
    if isinstance(error, OptbenchError):
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return 2
    if isinstance(error, OSError):
        name = f"{error.filename}: " if error.filename else ""
        print(f"{prog}: error: {name}{one_line(error.strerror or error)}", file=sys.stderr)
        return 2
    if isinstance(error, Exception):
        print(
            f"{prog}: internal error: {type(error).__name__}: {one_line(error)} (run again with "
            "--debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    raise error  # SystemExit and friends pass through
