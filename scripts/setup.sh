#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install what a job needs.
#   bash scripts/setup.sh demo   core + the weight-free demo (no torch: fast)
#   bash scripts/setup.sh full   everything: SAM 2 backend (torch, sam2), DICOM, training, tests, benchmarks
# torch/torchvision are pinned to the versions this project is tested with. torch==2.14.1 from PyPI
# is the CUDA build (about 3 GB of nvidia-* libraries on Linux); it runs on a CPU as well. For a
# CPU-only torch (a few hundred MB), where your package index offers the CPU wheels:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh full
# sam2 1.1.0 is source-only and is built after torch without its CUDA extension (SAM2_BUILD_CUDA=0).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-full}
case "$profile" in demo|full) ;; *) echo "usage: $0 [demo|full]" >&2; exit 2 ;; esac

py=${PYTHON:-}
if [ -z "$py" ]; then
  for cand in python3.11 python3.12 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1; then py=$cand; break; fi
  done
fi
[ -n "$py" ] || { echo "setup: no python3 found; install Python 3.10–3.12 or set PYTHON=" >&2; exit 1; }
"$py" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)' || {
  echo "setup: $("$py" --version) is not supported; use Python 3.10–3.12 (set PYTHON=...)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade "setuptools>=68" wheel

if [ "$profile" = demo ]; then
  "${pip[@]}" -e ".[demo]"
else
  "${pip[@]}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.14.1 torchvision==0.29.1
  if ! .venv/bin/python -c 'import sam2' 2>/dev/null; then
    SAM2_BUILD_CUDA=0 "${pip[@]}" --no-build-isolation sam2==1.1.0
  fi
  "${pip[@]}" -e ".[demo,sam2,hf,dicom,app,dev]"
fi
.venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check; exit 1; }
echo "setup: .venv ready ($profile)"
