#!/usr/bin/env bash
# Installs hubfs, then runs the short demo: create a dataset on local storage, read it back, mount it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python scripts/demo.py
