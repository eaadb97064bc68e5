"""A name -> factory registry filled by a decorator (STYLE rule 5)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from problems._errors import SpecError, closest, unknown
from problems._spec import Spec, parse_spec

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories by kebab-case name; ``registry.create("name:k=v")`` builds an entry.

    Args:
        kind: what the entries are, for error messages ("problem", "optimizer").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self.aliases: dict[str, str] = {}
        """Old spellings that still work (``random_search`` -> ``random-search``); unlisted."""

    def register(
        self, name: str, *, aliases: Sequence[str] = ()
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: ``@PROBLEMS.register("rosenbrock")`` on a factory taking keyword options.

        `aliases` are older spellings that keep working but are not listed (`names`).
        """

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories or name in self.aliases:
                existing = self._factories.get(self.canonical(name))
                where = f" (by {existing.__module__})" if existing is not None else ""
                msg = f"{self.kind} {name!r} already exists{where}; register it under another name"
                raise SpecError(msg)
            for alias in aliases:
                if alias in self._factories or alias in self.aliases:
                    msg = f"{self.kind} alias {alias!r} already exists; choose another alias"
                    raise SpecError(msg)
            self._factories[name] = factory
            self.aliases.update(dict.fromkeys(aliases, name))
            return factory

        return add

    def canonical(self, name: str) -> str:
        """The registered name of `name` (itself, or the name an alias stands for)."""
        return self.aliases.get(name, name)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories or name in self.aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._factories)

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as `name`; unknown names list the known ones."""
        try:
            return self._factories[self.aliases.get(name, name)]
        except KeyError:
            raise unknown(self.kind, name, self._factories) from None

    def create(self, spec: str | Spec, *, also: Sequence[str] = (), **options: object) -> T:
        """Build an entry from a spec string (``"rastrigin:dim=10"``) and/or keyword options.

        `also` names options understood elsewhere (a problem's variants), listed in the error
        for an unknown option.
        """
        parsed = parse_spec(spec) if isinstance(spec, str) else spec
        factory = self.factory(parsed.name)
        kwargs = {**parsed.options, **options}
        params = inspect.signature(factory).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            allowed = [k for k, p in params.items() if p.kind is not p.VAR_POSITIONAL]
            for key in kwargs:
                if key not in allowed:
                    near = closest(key, [*allowed, *also])
                    hint = f" (did you mean {near!r}?)" if near else ""
                    msg = (
                        f"{self.kind} {parsed.name!r} has no option {key!r}{hint}; "
                        f"allowed: {', '.join([*allowed, *also]) or 'none'}"
                    )
                    raise SpecError(msg)
        return factory(**kwargs)
