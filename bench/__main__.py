"""``python -m bench`` and the ``bench`` console script."""

from __future__ import annotations

import sys

from bench._cli import main as _main


def main() -> None:
    sys.exit(_main())


if __name__ == "__main__":
    main()
