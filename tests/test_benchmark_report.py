"""benchmarks/report.py: the tables it prints from pytest-benchmark JSON, each median with the
spread (interquartile range over median) of the timing it comes from."""
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def entry(median: float, iqr: float, **info) -> dict:
    return {"stats": {"median": median, "iqr": iqr}, "extra_info": info}


STEP = {"device": "cpu", "batch": 100, "optimizer": "adam", "flops": 1e9}
RESULTS = [
    entry(1.0, 0.0, device="cpu", peer="peak", flops=1e11),  # 100 GFLOP/s
    entry(0.01, 0.001, peer="xpnet", **STEP),
    entry(0.02, 0.008, peer="torch", **STEP),
    entry(0.005, 0.0005, peer="jax", **STEP),
    entry(0.04, 0.004, peer="sklearn", steps_per_call=2, **STEP),  # 0.02 s a step
    entry(2.0, 0.1, device="cpu", fit_batch=128, rows=6000, peer="xpnet"),
    entry(3.0, 0.6, device="cpu", fit_batch=128, rows=6000, peer="torch"),
    entry(0.1, 0.02, device="cpu", population=64, peer="xpnet"),
    entry(10.0, 0.5, device="cpu", setup="2-5-2-1 moons b64", peer="population", configurations=64),
    entry(40.0, 8.0, device="cpu", setup="2-5-2-1 moons b64", peer="sequential", configurations=64),
]

EXPECTED = [
    "| 100 | adam | 10,000 (10%) | 2.00x (40%) | 0.50x (10%) | 2.00x (10%) | 0.50x (10%) | 100 | 100% | - |",
    "| cpu | 128 | 6,000 | 2.000 (5%) | 3.000 (20%) | - | 1.50x (20%) | - |",
    "| cpu | 64 | 640 (20%) | - | - |",
    "| cpu | 2-5-2-1 moons b64 | 23,040 (5%) | 5,760 (20%) | 4.0x |",
]


@pytest.fixture
def report(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import report

    return report


def test_every_table_shows_the_spread_next_to_the_medians(report):
    text = report.markdown(report.summarize(RESULTS))
    for line in EXPECTED:
        assert line in text.splitlines(), line
    header = next(line for line in text.splitlines() if line.startswith("| batch"))
    assert header.split(" | ")[2:7] == ["xpnet samples/s", "vs torch", "vs jax", "vs sklearn", "vs best"]


def test_the_command_prints_the_report(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"benchmarks": RESULTS}))
    result = subprocess.run([sys.executable, "-m", "benchmarks.report", str(path)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert all(line in result.stdout.splitlines() for line in EXPECTED)


def test_the_readme_names_every_peer_of_the_report(report):
    section = (ROOT / "README.md").read_text().split("## Benchmarks")[1]
    names = {"xpnet-eager": "one kernel at a time", "torch": "PyTorch eager", "torch-fused": "fused=True",
             "torch-graph": "CUDA graph", "jax": "JAX", "sklearn": "MLPClassifier"}
    assert set(names) == set(report.STEP_PEERS)
    assert [name for name in names.values() if name not in section] == []
