#!/usr/bin/env bash
# Installs hubfs with its test tools and servers, then runs the whole test suite.
# pytest's exit code 5 (no test ran) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test || exit 1
.venv/bin/python -m pytest -q -rfEs "$@"
rc=$?
[ "$rc" = 5 ] && { echo "no tests ran: failing"; exit 1; }
exit "$rc"
