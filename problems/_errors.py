"""One error family for the whole suite (STYLE rule 6)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["OptbenchError", "SpecError", "StoreError", "UnknownNameError", "closest", "unknown"]


class OptbenchError(Exception):
    """Base of every error optbench raises on purpose."""


class SpecError(OptbenchError, ValueError):
    """A value is out of range or a spec cannot be parsed; the message names the bad value."""


class StoreError(OptbenchError, ValueError):
    """A run directory or one of its files cannot be read or written; the message names it."""


class UnknownNameError(OptbenchError, KeyError):
    """A name is not in a registry; the message lists the known names and the closest one."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name nearest to `name` (difflib ratio), or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown(kind: str, name: str, known: Iterable[str]) -> UnknownNameError:
    """Build the one-line error for an unknown `kind` called `name`."""
    names = sorted(known)
    near = closest(name, names)
    hint = f"; did you mean {near!r}?" if near else ""
    msg = f"unknown {kind} {name!r}{hint} Known: {', '.join(names)}"
    return UnknownNameError(msg)
