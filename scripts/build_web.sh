#!/usr/bin/env bash
# Rebuilds the web app's bundle (src/overflight/web/static/app.js, MapLibre's worker and CSS) from frontend/.
# The built bundle is committed, so `pip install -e .` alone gives a working `overflight serve`; run this after
# changing frontend/src/ or the npm dependencies (tests/test_web_bundle.py checks the two agree).
set -euo pipefail
cd "$(dirname "$0")/../frontend"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
