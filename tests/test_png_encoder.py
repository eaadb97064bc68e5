"""Figures drawn in forked children give the same page as figures drawn in place."""

from __future__ import annotations

import os

import pytest
from matplotlib.figure import Figure

from reports._encoder import PngEncoder
from reports._style import figure_html


def _figure(k: int) -> Figure:
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot(range(10), [i**k for i in range(10)], label=f"x^{k}")
    return fig


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("workers", [1, 3])
def test_forked_figures_equal_figures_drawn_in_place(workers: int) -> None:
    expected = "".join(figure_html(_figure(k), f"figure {k}") for k in range(5))
    encoder = PngEncoder(workers)
    page = "".join(encoder.submit(_figure(k), f"figure {k}") for k in range(5))
    assert "\x00figure-" in page  # placeholders until resolved: drawn elsewhere
    assert encoder.resolve(page) == expected


def test_without_workers_figures_are_drawn_at_once() -> None:
    assert PngEncoder(0).submit(_figure(1), "f") == figure_html(_figure(1), "f")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_that_fails_is_redrawn_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = PngEncoder(1)
    token = encoder.submit(_figure(2), "f")
    pid, read = encoder._running[0][1:3]
    os.waitpid(pid, 0)  # let the child finish, then lose its output
    os.close(read)
    reader, writer = os.pipe()
    os.close(writer)
    encoder._running[0] = (token, os.fork() or os._exit(3), reader, *encoder._running[0][3:])
    assert encoder.resolve(token) == figure_html(_figure(2), "f")
