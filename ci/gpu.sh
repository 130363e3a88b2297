#!/usr/bin/env bash
# On a CUDA machine: the CuPy / torch-CUDA tests, then the GPU benchmarks and their report.
# The machine needs CuPy, torch, pytest, pytest-benchmark and the array-API helpers; where it cannot
# reach a package index, fetch the helpers first with `bash ci/gpu-wheels.sh` (into .whl/, installed
# from there). BENCH_FILTER (default "cuda") selects benchmarks; PROFILE is full or quick.
# Usage: bash ci/gpu.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/xpnet-wheels .whl/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/xpnet-wheels"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
tests_status=0  # a failing test still leaves the benchmarks to run; the script exits with it at the end
python3 -m pytest tests -q -k "cupy or cuda or graphs" -p no:cacheprovider 2>&1 | tee "$out/gpu-tests.txt" \
    || tests_status=$?
python3 -m pytest benchmarks -q -p no:cacheprovider --profile "${PROFILE:-full}" -k "${BENCH_FILTER:-cuda}" \
    --benchmark-json="$out/gpu-benchmarks.json" 2>&1 | tail -n 5
python3 -m benchmarks.report "$out/gpu-benchmarks.json" | tee "$out/gpu-report.md"
exit "$tests_status"
