"""``python -m bench.perf.mlp``: the MLP speed table (``--help`` for its options).

The same table as ``bench perf --mlp``; the code is `bench.perf.mlp_speed_table`.
"""

from __future__ import annotations

from bench.perf._mlp import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
