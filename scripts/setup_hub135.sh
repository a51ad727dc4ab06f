#!/usr/bin/env bash
# Builds .bench/hub135: a venv of its own with Hub 1.3.5 and the old pins it needs, so that
# scripts/bench_dataset.py can put hubfs beside the system it replaces. Safe to run again: a venv whose
# Hub imports and runs the getting-started example is left as it is (--force rebuilds it).
#
#   scripts/setup_hub135.sh [--force]
#
# Pins that install on Python 3.11 (numpy 1.23.5 has no wheel for 3.12+, so 3.11 is needed):
# numpy 1.23.5, zarr 2.7.1, numcodecs 0.11.0, fsspec 0.8.5, s3fs 0.4.2 (Hub pins boto3 1.17.59),
# lz4 3.1.10 (Hub wants lz4<4; 3.x has no cp311 wheel, so it builds from source: needs a C compiler),
# pathos 0.2.9, azure-storage-blob 12.x, click<8. Everything else resolves from Hub's own requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=.bench/hub135
force=0
[ "${1:-}" = "--force" ] && force=1

verify() {
  # Hub 1.3.5 imports and the seed example (hub-getting-started.md) runs: as written (1000 samples,
  # ~30 s) after an install, with 100 samples when checking an existing venv.
  local n=$1 tmp
  tmp=$(mktemp -d)
  local rc=0
  (cd "$tmp" && N=$n "$ROOT/$VENV/bin/python" - <<'EOF'
import os
import numpy as np
import hub
from hub.schema import ClassLabel, Image
assert hub.__version__ == "1.3.5", hub.__version__
my_schema = {"image": Image((28, 28)), "label": ClassLabel(num_classes=10)}
ds = hub.Dataset("./data/examples/new_api_intro", shape=(int(os.environ["N"]),), schema=my_schema)
for i in range(len(ds)):
    ds["image", i] = np.ones((28, 28), dtype="uint8")
    ds["label", i] = 3
assert ds["image", 5].compute().sum() == 28 * 28
assert list(ds["label", 10:20].compute()) == [3] * 10
print(ds["label", 100 % len(ds):100 % len(ds) + 10].compute())
ds.close()
print("hub", hub.__version__, "ok")
EOF
  ) || rc=$?
  rm -rf "$tmp"
  return $rc
}

if [ "$force" = 0 ] && [ -x "$VENV/bin/python" ] && verify 100 2>/dev/null; then
  echo "$VENV: Hub 1.3.5 already installed"
  exit 0
fi

PY=""
for cand in python3.11 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    PY=$cand; break
  fi
done
[ -n "$PY" ] || { echo "Hub 1.3.5's pins (numpy 1.23.5) need Python 3.11; none found" >&2; exit 1; }

# lz4 3.x builds from source.
if ! command -v cc >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq gcc python3-dev >/dev/null
fi

rm -rf "$VENV"
mkdir -p .bench
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>/dev/null || true
"$VENV/bin/python" -m pip install -q --prefer-binary \
  "hub==1.3.5" "numpy==1.23.5" "zarr==2.7.1" "numcodecs==0.11.0" "fsspec==0.8.5" "s3fs==0.4.2" \
  "lz4>=3,<4" "pathos>=0.2,<0.3" "azure-storage-blob>=12,<13" "click>=6.7,<8" psutil
verify 1000
