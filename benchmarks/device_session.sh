#!/usr/bin/env bash
# One GPU session in one command: the GPU checks and `make bench-gpu`'s measurements, on an offline GPU machine
# whose Python already has torch (see benchmarks/README.md, "On a GPU machine"). Prepare on a machine with
# PyPI access with `make device-kit` (wheels and the Fashion-MNIST files into .device-kit/), copy the checkout
# with .device-kit/ to the GPU machine, then, in the checkout's root:
#
#     OUT=/some/folder bash benchmarks/device_session.sh [extra benchmarks/speed.py options]
#
# Each part has its own time limit (GPU_TESTS_S, BENCH_S seconds), so a part cut short still leaves the
# others' results: $OUT/gpu_tests.log, $OUT/bench.log, $OUT/speed.csv, $OUT/speed.json.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/out/device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

if ! "$PY" -c "import snakemake, jsonschema" 2>/dev/null; then
    [ -d .device-kit/wheels ] || { echo "no snakemake here and no .device-kit/wheels: run make device-kit first"; exit 2; }
    # A distribution's Python 3.12 (Debian, Ubuntu 24.04) refuses pip installs (PEP 668, "externally-managed-
    # environment") unless told otherwise; this machine is thrown away after the session. Older pips ignore it.
    PIP_BREAK_SYSTEM_PACKAGES=1 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        .device-kit/wheels/*.whl || exit 2
fi
# The rules run `python` from PATH (the interpreter running Snakemake first): give this Python that name too.
mkdir -p .device-kit/bin && ln -sf "$(command -v "$PY")" .device-kit/bin/python
export PATH="$(dirname "$(command -v "$PY")"):$PWD/.device-kit/bin:$PATH"
if [ -d .device-kit/fashion-mnist ] && [ ! -e data/fashion-mnist ]; then
    mkdir -p data && ln -s ../.device-kit/fashion-mnist data/fashion-mnist
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"

# 1. The tests with a GPU path: CUDA graphs' bits (eager vs graphed: a base net, a transferred net, one with
#    dropout and LRN), GPU slots, and a killed GPU job resuming bit-identically, eager and with CUDA graphs.
#    -v: a part cut short by its limit still names the tests that passed.
timeout "${GPU_TESTS_S:-170}" "$PY" -m pytest -v -p no:cacheprovider -m "not slurm" tests/test_graphs.py \
    tests/test_devices.py "tests/test_train.py::test_killed_job_resumes_bit_identically" 2>&1 | tee "$OUT/gpu_tests.log"

# 2. make bench-gpu's sections, shortest first, speed.csv/json saved after each: the small net's step with and
#    without CUDA graphs; caffenet eager, with fused LRN and compiled, and where its eager step goes; then the
#    grid with k nets per GPU, k = 1 and 8 first (the ratio the issue asks for), then 4 and 2, and the best k
#    with CUDA graphs. A part cut short by BENCH_S keeps the sections it finished.
timeout "${BENCH_S:-390}" "$PY" benchmarks/speed.py --require-gpu --gpu-sections --quick --dag none --compile \
    --grid on --grid-k 1 8 4 2 --out "$OUT" "$@" 2>&1 | tee "$OUT/bench.log"
echo "device_session: done; outputs in $OUT"
