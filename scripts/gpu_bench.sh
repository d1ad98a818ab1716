#!/usr/bin/env bash
# Runs the backend's CUDA benchmarks (SAMURAI vs vanilla per-frame time at 1024 px, bf16; batched
# objects, compiled vs eager, fp32 vs bf16 at 512 and 1024 px) on a
# lent GPU machine, whose image has torch but lacks sam2 / hydra-core / omegaconf / antlr4 / iopath.
#
# Here, once, fill ./.whl with pure-Python wheels (with a Python that has torch, for sam2's build):
#   pip download --no-deps -d .whl hydra-core==1.3.2 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3 iopath==0.1.10
#   SAM2_BUILD_CUDA=0 pip wheel --no-deps --no-build-isolation -w .whl sam2==1.1.0
#   (and jax, jaxlib, jaxtyping, wadler-lindig if the GPU image lacks them)
# Device run:   carry [".whl"], command: bash scripts/gpu_bench.sh
# Results land in $OUT (bench_backend_gpu.json, bench_backend_gpu.txt) when $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/samurai_gpu_bench}
mkdir -p "$out"
if ! python3 -c "import sam2, hydra, omegaconf, iopath" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "gpu_bench.sh: sam2 is not installed and ./.whl has no wheels; build them first with" \
         "as the header of scripts/gpu_bench.sh says, and carry .whl" >&2
    exit 2
  fi
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
# JAX (the decision core) stays on the CPU beside torch; no GPU preallocation if it ever uses one.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
if ! python3 -c "import jax, jaxtyping" 2>/dev/null; then
  echo "gpu_bench.sh: the core needs jax and jaxtyping; add their wheels to .whl" \
       "(pip download -d .whl jax jaxlib jaxtyping wadler-lindig ml_dtypes opt_einsum)" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
python3 -m pytest benchmarks/bench_backend.py -p no:cacheprovider --benchmark-only \
  -o python_files='bench_*.py' -o addopts='' -k "cuda_frame_time or added_cost" -s \
  --benchmark-json="$out/bench_backend_gpu.json" 2>&1 | tee "$out/bench_backend_gpu.txt"
# Four chambers at the cost of one: 1 vs 4 objects (batched, and 4 looped), eager vs compiled,
# fp32 vs bf16 autocast, hiera-tiny at 512 and 1024 px; frames/s, peak memory, compile time
# apart and the card's name in each case's extra_info.
python3 -m pytest benchmarks/bench_batched_objects.py -p no:cacheprovider --benchmark-only \
  -o python_files='bench_*.py' -o addopts='' -k "cuda_objects_per_frame" -s \
  --benchmark-json="$out/bench_batched_gpu.json" 2>&1 | tee "$out/bench_batched_gpu.txt"
