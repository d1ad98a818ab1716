#!/usr/bin/env bash
# The CUDA benchmarks, in one command that fits a 10-minute slot on a GPU machine: batched
# objects (1 vs 4, batched vs looped) eager at 512 and 1024 px in fp32 and bf16 first (the
# ≥ 150 frames/s moonshot is 4 objects, 512 px, bf16), then SAMURAI's overhead at 1024 px, then
# the compiled cases. Each step gets what is left of the time budget and a step that fails or
# runs out of time does not stop the next; the exit status says whether all went through.
#
# The machine's image has torch, JAX, pytest and pytest-benchmark but lacks sam2 / hydra-core /
# omegaconf / antlr4 / iopath. Here, once, fill ./.whl with their pure-Python wheels (needs a
# Python with torch, for sam2's build):
#   .venv/bin/pip wheel --no-deps -w .whl hydra-core==1.3.2 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3 iopath==0.1.10
#   SAM2_BUILD_CUDA=0 .venv/bin/pip wheel --no-deps --no-build-isolation -w .whl sam2==1.1.0
# On the GPU machine, with ./.whl copied along: bash scripts/gpu_bench.sh
# Results land in $OUT when it is set (else /tmp/samurai_gpu_bench): gpu.txt (card, versions),
# gpu_bench.log (everything printed), bench_batched_eager.json, bench_backend_gpu.json,
# bench_batched_compiled.json (pytest-benchmark; the figures are in each case's extra_info),
# summary.txt (one line of figures per case).
#
# Rehearsal on a machine without a GPU (what CI does, small and fast; timings meaningless):
#   SAMURAI_GPU_REHEARSAL=1 PYTHON=.venv/bin/python bash scripts/gpu_bench.sh
# runs every step on the CPU at 128 px (benchmarks/gpu_target.py says how).
# SAMURAI_GPU_BUDGET_S (default 540 s) is the time all steps may take together.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
rehearsal=${SAMURAI_GPU_REHEARSAL:-0}
budget=${SAMURAI_GPU_BUDGET_S:-540}
out=${OUT:-/tmp/samurai_gpu_bench}
mkdir -p "$out"
log="$out/gpu_bench.log"
: >"$log"
export PYTHONUNBUFFERED=1
if ! "$py" -c "import sam2, hydra, omegaconf, iopath" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "gpu_bench.sh: sam2 is not installed and ./.whl has no wheels; build them first as the" \
         "header of scripts/gpu_bench.sh says, and carry .whl" >&2
    exit 2
  fi
  "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:$PWD/backends:${PYTHONPATH:-}
# JAX (the decision core) stays on the CPU beside torch, and takes no GPU memory.
export JAX_PLATFORMS=cpu XLA_PYTHON_CLIENT_PREALLOCATE=false
if ! "$py" -c "import jax, jaxtyping" 2>/dev/null; then
  echo "gpu_bench.sh: the core needs jax and jaxtyping; add their wheels to .whl" \
       "(pip download -d .whl jax jaxlib jaxtyping wadler-lindig ml_dtypes opt_einsum)" >&2
  exit 2
fi
if [ "$rehearsal" = 1 ]; then
  echo "rehearsal on the CPU (SAMURAI_GPU_REHEARSAL=1): timings mean nothing" | tee "$out/gpu.txt"
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
fi
"$py" - <<'EOF' | tee -a "$out/gpu.txt"
import platform, jax, sam2, torch
cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"jax {jax.__version__} on {jax.devices()[0].platform}, sam2 from {sam2.__path__[0]}; {cuda}")
EOF
start=$SECONDS
failed=()
# step NAME FILE ARGS...: one pytest run over the benchmarks, its JSON in $out/NAME.json.
step() {
  local name=$1 file=$2
  shift 2
  local left=$((budget - (SECONDS - start)))
  if [ "$left" -lt 20 ]; then
    echo "gpu_bench.sh: $name not run: the time budget (${budget} s) is spent" | tee -a "$log"
    failed+=("$name (not run)")
    return
  fi
  echo "== $name ($file $*), $left s left" | tee -a "$log"
  # Warnings are shown, not raised: the suite's filterwarnings=error is for tests, and a
  # library's deprecation notice on another torch version must not cost the measurement.
  local rc=0
  timeout --kill-after=10 "$left" "$py" -m pytest "benchmarks/$file" -p no:cacheprovider \
    --benchmark-only -o python_files='bench_*.py' -o addopts='' -W default -s "$@" \
    --benchmark-json="$out/$name.json" >>"$log" 2>&1 || rc=$?
  tail -n 3 "$log"
  if [ "$rc" -ne 0 ]; then
    echo "gpu_bench.sh: $name exited $rc$([ "$rc" -eq 124 ] && echo ' (out of time)')" | tee -a "$log"
    failed+=("$name")
  fi
}
step bench_batched_eager bench_batched_objects.py -k "cuda_objects_per_frame and eager"
step bench_backend_gpu bench_backend.py -k "cuda_frame_time"
step bench_batched_compiled bench_batched_objects.py -k "cuda_objects_per_frame and compiled"
# One line per case: the figures each benchmark printed.
grep -E "^(device |frame time on )" "$log" >"$out/summary.txt" || true
if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu_bench.sh: not all steps went through: ${failed[*]} (see $log)" >&2
  exit 1
fi
echo "gpu_bench.sh: all steps done in $((SECONDS - start)) s; results in $out"
