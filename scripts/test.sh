#!/usr/bin/env bash
# The whole test suite, installing what it needs. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
