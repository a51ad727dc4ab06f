#!/usr/bin/env bash
# Installs what hubfs needs on a Debian machine, as root; safe to run again.
#   scripts/install.sh          the package and FUSE (for the demo)
#   scripts/install.sh --test   also the test tools and the object-store test servers
set -euo pipefail
cd "$(dirname "$0")/.."
with_test=0
[ "${1:-}" = "--test" ] && with_test=1

pkgs=()
command -v fusermount3 >/dev/null || pkgs+=(fuse3)
command -v python3 >/dev/null || pkgs+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || pkgs+=(python3-venv)
command -v git >/dev/null || pkgs+=(git)
if [ "$with_test" = 1 ]; then
  command -v npm >/dev/null || pkgs+=(nodejs npm)
  command -v rsync >/dev/null || pkgs+=(rsync)  # the mount tests copy with rsync -a (temp file + rename)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
if [ "$with_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
  # Azurite (the Azure Blob emulator) comes from npm; 3.35 is the last release that runs on Node 20.
  if [ ! -x .servers/azurite/node_modules/.bin/azurite-blob ]; then
    mkdir -p .servers/azurite
    npm install --silent --no-audit --no-fund --prefix .servers/azurite azurite@3.35.0 >/dev/null
  fi
else
  .venv/bin/python -m pip install -q -e .
fi
