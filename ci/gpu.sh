#!/usr/bin/env bash
# On a CUDA machine: the CuPy / torch-CUDA tests, then the full benchmark suite and its report.
# The machine needs CuPy, torch, pytest, pytest-benchmark and array-api-compat; wheels of missing
# pure-Python packages can be installed first with:  pip install --no-index --no-deps WHEELS
# Usage: bash ci/gpu.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -m pytest tests -q -k "cupy or cuda" -p no:cacheprovider 2>&1 | tee "$out/gpu-tests.txt"
python -m pytest benchmarks -q -p no:cacheprovider --profile "${PROFILE:-full}" \
    --benchmark-json="$out/gpu-benchmarks.json" 2>&1 | tail -n 5
python -m benchmarks.report "$out/gpu-benchmarks.json" | tee "$out/gpu-report.md"
