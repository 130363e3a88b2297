"""pytest-benchmark suites for xpnet: training-step throughput against peers in the same run."""
