"""The report's jinja2 templates (package data under ``reports/templates/``), autoescaped.

Every value a template prints is HTML-escaped unless it is `markupsafe.Markup` already: the
figures (`figure_html` escapes their alternative text) and the sections' bodies, which are
themselves rendered here. Names from the results (problems, optimizers, run labels) are
plain strings, so they always print as text.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = ["Markup", "environment", "render_template"]


@functools.cache
def environment() -> Environment:
    """The one jinja2 environment: templates from the package, autoescape on, strict names."""
    return Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def render_template(name: str, **context: Any) -> Markup:
    """Render ``reports/templates/<name>`` with `context`; the result is safe HTML."""
    return Markup(environment().get_template(name).render(**context).strip())
