#!/usr/bin/env bash
# Fetch the pure-Python wheels that a CUDA machine without package access lacks (the array-API
# helpers the tests import) into .whl/, where ci/gpu.sh installs them from.
# Usage (on a machine with PyPI access): bash ci/gpu-wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download --quiet --no-deps --only-binary=:all: -d .whl \
    "array-api-compat>=1.10" "array-api-strict>=2.3" "array-api-extra>=0.7"
ls .whl
