#!/bin/sh
# optbench's two commands on a fresh machine (Python 3.10+, a POSIX shell; nothing else):
#   sh dev.sh run    create .venv, install, run the default study, write its report
#   sh dev.sh test   create .venv, install with the test extras, run the tests
# Both are idempotent: the venv is reused, and reinstalled only when pyproject.toml changes.
# Also: sh dev.sh perf [--quick]   (throughput benchmark),  sh dev.sh bench ARGS  (the CLI).
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.venv
PY=$VENV/bin/python

setup() {
  extras=$1
  if [ ! -x "$PY" ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
      || { echo "optbench needs Python 3.10 or newer (found $("$PYTHON" --version))" >&2; exit 2; }
    "$PYTHON" -m venv "$VENV"
  fi
  stamp="$VENV/.installed$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # Ask for torch 2.13.0 by pin when torch is missing: an open range would resolve to a
    # multi-GB CUDA build; pyproject accepts any torch in >=2.3,<2.15 already installed.
    "$PY" -c 'import torch' 2>/dev/null || "$PY" -m pip install -q 'torch==2.13.0'
    "$PY" -m pip install -q -e ".$extras"
    touch "$stamp"
  fi
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  run)
    setup ""
    "$VENV/bin/bench" run studies/quick.toml --out runs/quick --workers 2 "$@"
    "$VENV/bin/bench" report runs/quick -o runs/quick/report.html
    ;;
  test)
    setup "[test]"
    "$PY" -m pytest -p no:cacheprovider --benchmark-disable "$@"
    ;;
  perf)
    setup ""
    "$VENV/bin/bench" perf "$@"
    ;;
  bench)
    setup ""
    "$VENV/bin/bench" "$@"
    ;;
  *)
    echo "usage: sh dev.sh run | test | perf [--quick] | bench ARGS" >&2
    exit 2
    ;;
esac
