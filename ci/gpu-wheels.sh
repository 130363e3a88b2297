#!/usr/bin/env bash
# Fetch the wheels that a CUDA machine without package access lacks into .whl/, where ci/gpu.sh
# installs them from: the array-API helpers the tests import (pure Python) and nvmath-python, whose
# cuBLASLt products the recorded CUDA-graph step uses, built for the GPU machine's Python (3.12 by
# default; set GPU_PYTHON). nvmath-python's own needs (cuda-bindings, cuda-core, cuda-pathfinder) come
# with CuPy's CUDA 13 stack there.
# Usage (on a machine with PyPI access): bash ci/gpu-wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download --quiet --no-deps --only-binary=:all: -d .whl \
    "array-api-compat>=1.10" "array-api-strict>=2.3" "array-api-extra>=0.7"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d .whl \
    --python-version "${GPU_PYTHON:-3.12}" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    "nvmath-python==1.0.0"
ls .whl
