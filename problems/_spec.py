"""Spec strings: ``name:key=value,key=value`` on the command line, tables in TOML.

The same spelling names a problem (``rastrigin:dim=10``), an optimizer configuration
(``adam:lr=3e-4``) and a wrapper (``restarts(adam:lr=1e-2,n=32)``) everywhere: CLI,
study files, reports and pytest-benchmark ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from problems._errors import SpecError

__all__ = ["Spec", "format_value", "parse_spec", "parse_value", "split_specs", "split_top_level"]

Value = bool | int | float | str


@dataclass(frozen=True)
class Spec:
    """A parsed spec: a name, keyword options, and for wrappers the inner specs.

    `parse_spec` leaves the inner specs as text; `optimizers.parse` parses them too, so a
    wrapper's whole spec is parsed once into one value.

    Example:
        >>> parse_spec("restarts(adam:lr=0.01,n=32)")
        Spec(name='restarts', options={'n': 32}, inner=('adam:lr=0.01',))
    """

    name: str
    options: Mapping[str, object] = field(default_factory=dict)
    inner: tuple[str | Spec, ...] = ()

    def __str__(self) -> str:
        opts = [f"{k}={format_value(v)}" for k, v in self.options.items()]
        if self.inner:
            return f"{self.name}({','.join([*map(str, self.inner), *opts])})"
        return f"{self.name}:{','.join(opts)}" if opts else self.name


def format_value(value: object) -> str:
    """Shortest text that parses back to `value` (``1e-3`` stays ``0.001``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_value(text: str) -> Value:
    """``"10"`` -> 10, ``"3e-4"`` -> 0.0003, ``"true"`` -> True, anything else stays text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses.

    Example: ``"a,restarts(b,n=2)"`` -> ``["a", "restarts(b,n=2)"]``.
    """
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            msg = f"unbalanced ')' in {text!r}"
            raise SpecError(msg)
        if char == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if depth != 0:
        msg = f"unbalanced '(' in {text!r}"
        raise SpecError(msg)
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _is_option(item: str) -> bool:
    """True for a ``key=value`` item: text before its first ``=`` that holds no ``:`` or ``(``.

    Names never contain ``=``, so ``instance=3`` is an option, while ``adam:lr=3e-4``,
    ``torch:NAdam:lr=0.01`` and ``restarts(adam,n=32)`` each start a spec of their own.
    """
    key, eq, _ = item.partition("=")
    return bool(eq) and not any(char in key for char in ":()")


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs, as ``--problems`` and ``--optimizers`` take it.

    Commas separate specs and also the options of one spec, so a ``key=value`` item joins the
    spec before it (names never contain ``=``); commas inside parentheses belong to a wrapper.

    Example:
        >>> split_specs("rastrigin:dim=10,instance=3,rosenbrock")
        ['rastrigin:dim=10,instance=3', 'rosenbrock']
        >>> split_specs("sphere,dim=5,restarts(adam:lr=0.05,n=8),torch:NAdam:lr=0.01")
        ['sphere:dim=5', 'restarts(adam:lr=0.05,n=8)', 'torch:NAdam:lr=0.01']

    Raises:
        SpecError: the list starts with an option, an option follows a wrapper (its options
            go inside the parentheses), or parentheses are unbalanced.
    """
    specs: list[str] = []
    for item in split_top_level(text):
        if not _is_option(item):
            specs.append(item)
            continue
        if not specs:
            key = item.partition("=")[0].strip()
            msg = (
                f"{text!r} starts with the option {item!r}: a list of specs starts with a name,"
                f" and options follow it, e.g. 'rastrigin:dim=10,{key}=...'"
            )
            raise SpecError(msg)
        if specs[-1].endswith(")"):
            msg = (
                f"option {item!r} after the wrapper {specs[-1]!r}: a wrapper's options go"
                f" inside its parentheses, e.g. {specs[-1][:-1] + ',' + item + ')'!r}"
            )
            raise SpecError(msg)
        specs[-1] += ("," if "=" in specs[-1] else ":") + item
    return specs


def _options(items: list[str], text: str) -> dict[str, Value]:
    options: dict[str, Value] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            msg = f"bad option {item!r} in {text!r}: expected key=value"
            raise SpecError(msg)
        options[key.strip()] = parse_value(value)
    return options


def parse_spec(text: str) -> Spec:
    """Parse ``name``, ``name:k=v,...`` or ``wrapper(inner,...,k=v)``."""
    text = text.strip()
    if not text:
        msg = "empty spec: expected a name such as 'rosenbrock' or 'adam:lr=1e-3'"
        raise SpecError(msg)
    if "(" in text.split(":", 1)[0]:
        name, _, rest = text.partition("(")
        if not rest.endswith(")"):
            msg = f"bad spec {text!r}: a wrapper reads like a call, e.g. 'restarts(adam,n=32)'"
            raise SpecError(msg)
        items = split_top_level(rest[:-1])
        inner = tuple(i for i in items if "=" not in i.split("(")[0].split(":")[0])
        opts = [i for i in items if i not in inner]
        return Spec(name.strip(), _options(opts, text), inner)
    name, _, rest = text.partition(":")
    return Spec(name.strip(), _options(split_top_level(rest), text) if rest else {})
