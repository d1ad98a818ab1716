#!/usr/bin/env bash
# The main job on a fresh machine: set up (no torch needed) and run the SAMURAI demo on a
# synthetic echo phantom. Extra arguments go to `samurai demo` (see `samurai demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
.venv/bin/samurai demo --out samurai_demo --force "$@"
