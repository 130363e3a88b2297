#!/usr/bin/env bash
# The README's test command: install the test extras from this checkout, then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
python -m pytest
