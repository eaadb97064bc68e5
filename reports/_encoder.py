"""Figures to inline PNGs, drawn in forked children while the page goes on being built.

Drawing and encoding a figure (``savefig``) is most of a report's time, and each figure is
independent of the next, so on a POSIX system with more than one core `PngEncoder` forks a
child per figure: the child inherits the built figure (no imports, no data to send), draws it,
and writes its ``<img>`` to a pipe, while the parent builds the next figure. The page holds a
placeholder until `PngEncoder.resolve` swaps in each child's output; where forking is not
available, or a child fails, the parent draws the figure itself. Same bytes either way.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from contextlib import suppress

from matplotlib.figure import Figure

from reports._style import figure_html

__all__ = ["PngEncoder"]


class PngEncoder:
    """Encode figures with `figure_html`, up to `workers` of them in forked children at once.

    Args:
        workers: children drawing at the same time (default: the cores but one; 0 draws
            every figure in this process).
    """

    def __init__(self, workers: int | None = None) -> None:
        can_fork = hasattr(os, "fork") and sys.platform.startswith("linux")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        self.workers = (max(cores - 1, 0) if workers is None else workers) if can_fork else 0
        self._running: deque[tuple[str, int, int, Figure, str]] = deque()
        self._done: dict[str, str] = {}

    def submit(self, fig: Figure, alt: str) -> str:
        """The figure's ``<img>``, or a placeholder for it that `resolve` fills in."""
        if self.workers == 0:
            return figure_html(fig, alt)
        while len(self._running) >= self.workers:
            self._collect()
        token = f"\x00figure-{len(self._done) + len(self._running)}\x00"
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: draw, write, leave without running the parent's exit hooks
            code = 1
            try:
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    out.write(figure_html(fig, alt).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self._running.append((token, pid, read, fig, alt))
        return token

    def _collect(self) -> None:
        token, pid, read, fig, alt = self._running.popleft()
        with os.fdopen(read, "rb") as handle:
            data = handle.read()
        _, status = os.waitpid(pid, 0)
        ok = os.waitstatus_to_exitcode(status) == 0 and data
        self._done[token] = data.decode() if ok else figure_html(fig, alt)
        with suppress(Exception):  # the parent's copy is no longer needed
            fig.clear()

    def resolve(self, page: str) -> str:
        """`page` with every placeholder replaced by its figure."""
        while self._running:
            self._collect()
        for token, html in self._done.items():
            page = page.replace(token, html, 1)
        return page
