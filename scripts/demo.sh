#!/usr/bin/env bash
# The main job on the embedded default: install, then show ALLOW and BLOCK decisions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/callguard demo "$@"
