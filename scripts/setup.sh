#!/usr/bin/env bash
# Shared set-up: a virtual environment in .venv with callguard installed (editable).
# Usage: scripts/setup.sh [extra]   e.g. "test" installs the test tools too.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$python" -m venv .venv
    else
      echo "python3 -m venv failed: install python3-venv (apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
spec="."
[ -n "$extra" ] && spec=".[$extra]"
# pip's own status decides (the filter's "|| true" used to swallow it, and a failed install
# went on to run the one before it, or nothing).
status=0
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 \
  | { grep -v -e "^WARNING: Location" -e "Running pip as the 'root'" || true; } || status=$?
if [ "$status" -ne 0 ]; then
  echo "callguard failed to install (pip exited $status, above); nothing was run" >&2
  exit 1
fi
# The installed command, not "import callguard": run from here, that imported ./callguard of
# the clone whatever pip had done.
.venv/bin/callguard --version >/dev/null || { echo "callguard failed to install" >&2; exit 1; }
