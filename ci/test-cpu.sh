#!/usr/bin/env bash
# The README's test command (install the test extras from this checkout, run the tests), the linter
# and the type checker, then the quick benchmark profile as a smoke test, with its table.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
python -m pytest
python -m ruff check xpnet tests benchmarks examples
python -m mypy
results="$(mktemp -d)/benchmarks.json"
python -m pytest benchmarks -q -p no:cacheprovider --profile quick --benchmark-json="$results" | tail -n 3
python -m benchmarks.report "$results"
