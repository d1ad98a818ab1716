#!/usr/bin/env bash
# Set up everything and run every test (the core, the SAM 2 backend on random-init tiny models,
# datasets, training incl. 2-process DDP on CPU, the CLI end to end), then a smoke run of the
# benchmark suites (each benchmark once, untimed, so they cannot rot; the 1000-frame streaming
# memory run, marked slow, is left to explicit benchmark runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh full
# Lint and format (ruff, configured in pyproject.toml) before the tests: one style, checked.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The 25 slowest tests are listed at the end, so a CI log shows where the time goes.
.venv/bin/python -m pytest tests --durations=25 "$@"
.venv/bin/python -m pytest benchmarks -q -p no:cacheprovider -o python_files='bench_*.py' \
  --benchmark-disable -m 'not slow'
