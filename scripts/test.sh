#!/usr/bin/env bash
# The whole test suite, installing what it needs. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Tests that need Redis start Debian's redis-server on a free port.
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # The package starts a system instance on 6379; the tests need only the binary.
    (systemctl stop redis-server || service redis-server stop) >/dev/null 2>&1 || true
  else
    echo "redis-server is missing: apt-get install redis-server" >&2
    exit 1
  fi
fi
# tests/test_sip.py drives the SIP front with Debian's SIPp (sip-tester) and sipsak.
if { ! command -v sipp >/dev/null || ! command -v sipsak >/dev/null; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester sipsak >/dev/null
fi
# tests/test_packaging.py checks the systemd unit with systemd-analyze.
if ! command -v systemd-analyze >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null || true
fi
# tests/test_monitoring.py runs promtool (Debian's prometheus package) on /metrics and the
# alert rules; tests/test_supervisor_page.py drives Debian's chromium with chromium-driver.
# The prometheus package may start its own server: the tests need only promtool.
if { ! command -v promtool >/dev/null || ! command -v chromedriver >/dev/null; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus chromium chromium-driver >/dev/null
  (systemctl disable --now prometheus || service prometheus stop) >/dev/null 2>&1 || true
fi
# tests/test_lnav.py checks contrib/lnav/callguard.json with Debian's lnav.
if ! command -v lnav >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lnav >/dev/null
fi
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
