"""Plugins: a user's module that registers problems and optimizers with the catalogue's own
decorators (`problems.register`, `optimizers.register`), loaded by path or by module name.

Three ways in, all through `load_plugins`:

- ``--plugin path/to/my_plugin.py`` (a file, imported under a private module name);
- ``--plugin mypkg.plugin`` (an importable module);
- an installed package's entry point in the group ``optbench.plugins``
  (``[project.entry-points."optbench.plugins"] mine = "mypkg.plugin"``), loaded by every
  command that builds the catalogue (run, list, check, tune).

A study file names its plugins with ``plugins = [...]`` (paths relative to the file). Each
plugin is imported once per process: loading it again is a no-op, so the command line, the
study and every ``--workers`` process (`bench._runner`'s initializer) can all ask for it.
`Plugin.record` is what meta.json keeps of each (how it was named, and a version or the
file's SHA-256), so a result says what code made it.

Example:
    >>> from bench._plugins import load_plugins
    >>> [p.record() for p in load_plugins(["tests/data/plugin_example.py"])]  # doctest: +SKIP
    [{'plugin': '/abs/tests/data/plugin_example.py', 'kind': 'path', 'sha256': '...'}]
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

from problems import OptbenchError, SpecError

__all__ = [
    "ENTRY_POINT_GROUP",
    "Plugin",
    "PluginError",
    "load_cli_plugins",
    "load_plugins",
    "loaded_plugins",
    "resolve_plugins",
]

ENTRY_POINT_GROUP = "optbench.plugins"
"""The entry-point group installed packages register their plugin module under."""


class PluginError(SpecError):
    """A plugin cannot be found or fails to import; the message names it and the cause."""


@dataclass(frozen=True)
class Plugin:
    """One loaded plugin, as meta.json records it.

    Attributes:
        name: how it was named: an absolute file path, a module name, or
            ``entry-point:<name>`` for an installed package's entry point.
        kind: ``"path"``, ``"module"`` or ``"entry-point"``.
        module: the imported module's name.
        version: the distribution's version (modules and entry points), when installed.
        sha256: the SHA-256 of the plugin's source file, when it has one.
    """

    name: str
    kind: str
    module: str
    version: str | None = None
    sha256: str | None = None

    def record(self) -> dict[str, str]:
        """The plugin as meta.json's ``plugins`` entries: no empty fields."""
        out = {"plugin": self.name, "kind": self.kind, "module": self.module}
        if self.version is not None:
            out["version"] = self.version
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        return out


_LOADED: dict[str, Plugin] = {}
"""Plugins imported in this process, by `Plugin.name` (each is imported once)."""


def is_path(spec: str) -> bool:
    """True for a plugin named by a file (``my_plugin.py``, ``./dir/x.py``), not a module."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def resolve_plugins(specs: Iterable[str], base: Path | None = None) -> tuple[str, ...]:
    """Plugin specs with file paths made absolute (relative to `base`, else the cwd).

    A study file's ``plugins`` are relative to the file; ``--plugin`` to the working
    directory. Module names are kept as they are.
    """
    out = []
    for spec in specs:
        if not isinstance(spec, str) or not spec.strip():
            msg = f"a plugin is a file (my_plugin.py) or a module (mypkg.plugin), got {spec!r}"
            raise PluginError(msg)
        spec = spec.strip()
        if is_path(spec):
            path = Path(spec).expanduser()
            if not path.is_absolute():
                path = (base or Path.cwd()) / path
            spec = str(path.resolve())
        out.append(spec)
    return tuple(out)


def load_plugins(specs: Sequence[str] = (), *, entry_points: bool = True) -> list[Plugin]:
    """Import each plugin once in this process (and, with `entry_points`, every installed
    package's ``optbench.plugins`` entry point); return the plugins loaded here, in order.

    Args:
        specs: file paths (``my_plugin.py``) and module names (``mypkg.plugin``).
        entry_points: also load the entry-point group (commands that build the catalogue).

    Raises:
        PluginError: a file or module is missing, or importing it raised (the message
            names the plugin, the exception and the line of the plugin it came from); a
            plugin that registers a name that exists fails with the registry's message.
    """
    loaded = []
    if entry_points:
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            loaded.append(_load_entry_point(entry))
    for spec in resolve_plugins(specs):
        loaded.append(_load_path(spec) if is_path(spec) else _load_module(spec))
    return loaded


CATALOGUE_COMMANDS = frozenset({"run", "list", "check", "tune"})
"""Commands that build the catalogue, and so load the entry-point plugins too (``show`` and
``report`` read files and load only the plugins they are given)."""


def load_cli_plugins(command: str, specs: Sequence[str]) -> list[Plugin]:
    """The plugins of a command line: its ``--plugin`` values, and the entry points for a
    command that builds the catalogue (`CATALOGUE_COMMANDS`; ``bench tune`` calls this too)."""
    return load_plugins(specs, entry_points=command in CATALOGUE_COMMANDS)


def loaded_plugins() -> list[Plugin]:
    """Every plugin imported in this process so far (what meta.json records)."""
    return list(_LOADED.values())


def _load_path(spec: str) -> Plugin:
    if spec in _LOADED:
        return _LOADED[spec]
    path = Path(spec)
    if not path.is_file():
        msg = f"plugin {spec}: no such file"
        raise PluginError(msg)
    source = path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    module_name = (
        f"optbench_plugin_{_identifier(path.stem)}_{hashlib.sha256(spec.encode()).hexdigest()[:8]}"
    )
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover (a .py file)
        msg = f"plugin {spec}: cannot be imported as a Python file"
        raise PluginError(msg)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up
    try:
        module_spec.loader.exec_module(module)
    except BaseException as error:
        sys.modules.pop(module_name, None)
        raise _failed(spec, error, path) from None
    plugin = Plugin(spec, "path", module_name, sha256=digest)
    _LOADED[spec] = plugin
    return plugin


def _load_module(spec: str) -> Plugin:
    if spec in _LOADED:
        return _LOADED[spec]
    try:
        module = importlib.import_module(spec)
    except ModuleNotFoundError as error:
        if error.name and spec.startswith(error.name):
            msg = f"plugin {spec}: no module named {error.name!r} (a file needs its .py suffix)"
            raise PluginError(msg) from None
        raise _failed(spec, error, None) from None
    except BaseException as error:
        raise _failed(spec, error, None) from None
    plugin = Plugin(spec, "module", module.__name__, _module_version(module), _file_hash(module))
    _LOADED[spec] = plugin
    return plugin


def _load_entry_point(entry: metadata.EntryPoint) -> Plugin:
    name = f"entry-point:{entry.name}"
    if name in _LOADED:
        return _LOADED[name]
    try:
        loaded = entry.load()
    except BaseException as error:
        raise _failed(f"{name} ({entry.value})", error, None) from None
    module = loaded if isinstance(loaded, ModuleType) else sys.modules[entry.module]
    version = entry.dist.version if entry.dist is not None else _module_version(module)
    plugin = Plugin(name, "entry-point", module.__name__, version, _file_hash(module))
    _LOADED[name] = plugin
    return plugin


def _failed(spec: str, error: BaseException, path: Path | None) -> PluginError:
    """One line: the plugin, then the registry's own message or the exception and its line."""
    if isinstance(error, OptbenchError):
        return PluginError(f"plugin {spec}: {error}")
    where = ""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if path is not None and Path(f.filename) == path] or frames[-1:]
    if own:
        where = f" (at {Path(own[-1].filename).name}:{own[-1].lineno})"
    text = str(error).splitlines()[0] if str(error) else ""
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return PluginError(f"plugin {spec} failed to import: {what}{where}")


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def _module_version(module: ModuleType) -> str | None:
    """The installed distribution's version of `module`'s top-level package, else its
    ``__version__``, else None."""
    top = module.__name__.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            continue
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


def _file_hash(module: ModuleType) -> str | None:
    file = getattr(module, "__file__", None)
    if not file or not Path(file).is_file():
        return None
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()
