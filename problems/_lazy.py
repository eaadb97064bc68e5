"""Package facades whose names load on first use (PEP 562), so that importing one is cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a lazy facade.

    Args:
        package: the facade's module name, for the error message.
        exports: public name -> the private module that defines it.
        namespace: the facade's ``globals()``; a name is cached there once loaded.

    Example:
        >>> getattr_, dir_ = lazy_exports("pkg", {"sqrt": "math"}, namespace := {})
        >>> getattr_("sqrt")(9.0), "sqrt" in namespace
        (3.0, True)
    """

    def getattr_(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            namespace[name] = value
            return value
        msg = f"module {package!r} has no attribute {name!r}"
        raise AttributeError(msg)

    def dir_() -> list[str]:
        return sorted([*namespace, *exports])

    return getattr_, dir_
