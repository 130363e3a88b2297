"""The example scripts run with their smallest settings (``--smoke``) and write every figure they name."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIGURES = {
    "initialization.py": ["initialization_cost.png", "initialization_boundaries.png"],
    "regularization.py": ["regularization_boundaries.png", "regularization_val_loss.png"],
    "gradient_checking.py": ["gradient_checking.png"],
    "optimization.py": ["optimization_batch_size_cost.png", "optimization_batch_size_boundaries.png",
                        "optimization_optimizers_cost.png", "optimization_optimizers_boundaries.png"],
    "lr_decay.py": ["lr_decay.png"],
    "batch_norm.py": ["batch_norm_cost.png"],
    "search.py": ["search_random.png", "search_grid.png", "search_coarse_to_fine.png",
                  "search_population.png", "search_best_history.png"],
}


def run(script: str, out: pathlib.Path) -> subprocess.CompletedProcess:
    """Run ``script --smoke --out out`` with this checkout's xpnet first on the path."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(EXAMPLES / script), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, timeout=600)


def test_every_example_script_is_run_here():
    scripts = {path.name for path in EXAMPLES.glob("*.py")} - {"common.py"}
    assert scripts == set(FIGURES)


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_example_runs_and_writes_its_figures(tmp_path, script):
    out = tmp_path / "figures"
    completed = run(script, out)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() and not completed.stderr.strip()
    assert sorted(path.name for path in out.iterdir()) == sorted(FIGURES[script])
    for name in FIGURES[script]:
        content = (out / name).read_bytes()
        assert len(content) > 1000 and content.startswith(b"\x89PNG\r\n\x1a\n"), name
