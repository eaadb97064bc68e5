"""Every method the registries can build, as spec strings, for the tests that must cover all.

`METHOD_SPECS` is derived from the registries: each core optimizer in
`optimizers.OPTIMIZERS`, each wrapper in `optimizers.WRAPPERS` (around ``adam`` when it takes
an inner optimizer), every mode of a wrapper that has modes, and the torch.optim adapter in
both of its modes (an elementwise class and a row-by-row one). A new optimizer, wrapper or
mode is covered by every test that parametrises over it, without new test code.
"""

from __future__ import annotations

import optimizers
from optimizers.restarts import MODES
from optimizers.torch_adapter import TorchRows
from problems import SpecError

INNER = "adam:lr=0.05"
"""The inner optimizer of wrappers that take one."""

TORCH = ("torch:NAdam:lr=0.01", "torch:LBFGS:lr=0.5")
"""The adapter's two modes: elementwise (the batch as one tensor) and row by row."""


def wrapper_spec(name: str, **options: object) -> str:
    """The wrapper `name` as a spec: bare when it takes no inner optimizer, else around `INNER`.

    Example: ``wrapper_spec("restarts", n=4)`` is ``"restarts(adam:lr=0.05,n=4)"``.
    """
    opts = [f"{k}={v}" for k, v in options.items()]
    bare = f"{name}({','.join(opts)})" if opts else name
    try:
        optimizers.method(bare)
    except SpecError as error:
        if "inner optimizer" not in str(error):
            raise
        return f"{name}({','.join([INNER, *opts])})"
    return bare


def _wrapper_specs() -> list[str]:
    specs = []
    for name in optimizers.WRAPPERS.names():
        if name == "restarts":  # every mode; a short window, so that rows restart
            for mode in MODES:
                extra = {"window": 1} if mode == "sequential" else {}
                specs.append(wrapper_spec(name, n=2, mode=mode, **extra))
        else:
            specs.append(wrapper_spec(name))
    return specs


METHOD_SPECS: list[str] = [*optimizers.OPTIMIZERS.names(), *_wrapper_specs(), *TORCH]


def on_the_device(spec: str) -> bool:
    """False for methods that step row by row on the host (`TorchRows`, and wrappers of it)."""
    method = optimizers.method(spec)
    inner = getattr(method, "local", method)
    return not isinstance(method, TorchRows) and not isinstance(inner, TorchRows)
