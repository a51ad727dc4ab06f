#!/usr/bin/env bash
# Builds .bench/deeplake4: a venv of its own with Deep Lake 4 (`deeplake` from PyPI) and the CPU build of
# torch, so that scripts/bench_feeds.py can put hubfs's PyTorch feed beside Deep Lake's. Safe to run again:
# a venv whose deeplake and torch import is left as it is (--force rebuilds it).
#
#   scripts/setup_deeplake4.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.bench/deeplake4
if [ "${1:-}" != "--force" ] && [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import deeplake, torch" 2>/dev/null; then
  echo "$VENV: deeplake $("$VENV/bin/python" -c 'import deeplake; print(deeplake.__version__)') is ready"
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q deeplake 'torch==2.13.0' pillow  # torch 2.13.0: the CPU build (a plain torch is CUDA, GBs)
"$VENV/bin/python" -c "import deeplake, torch; print('$VENV: deeplake', deeplake.__version__, 'torch', torch.__version__)"
