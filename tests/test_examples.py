"""The example scripts run with their smallest settings (``--smoke``) and write every figure they name;
the search example tunes on validation rows and says what it ranks by."""
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

import xpnet as xn
from xpnet import tune

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


def load_example(script: str, monkeypatch):
    """The example ``script`` imported as a module (its ``import common`` finds examples/common.py)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(script.removesuffix(".py"), EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(X) -> set:
    return {tuple(row) for row in X.tolist()}


def test_search_tunes_on_validation_rows_never_on_the_test_rows(monkeypatch):
    problem = load_example("search.py", monkeypatch).tuning_problem()
    X_train, _, X_test, _ = xn.datasets.digits()
    train, val = rows(problem.X_train), rows(problem.X_val)
    assert len(val) == round(0.2 * len(X_train)) and train | val == rows(X_train) and not train & val
    assert not val & rows(X_test)


def test_search_summary_prints_the_loss_trials_are_ranked_by(monkeypatch, capsys):
    """Trial 0 had the lowest loss at some epoch, trial 1 ends lower: trial 1 wins, by its last loss."""
    def trial(number, val_loss, best_val_loss):
        return tune.TrialResult(number, {"lr": 0.01}, val_loss, best_val_loss, 0.9, 0.95, 5, 1.0, False)

    results = tune.Results([trial(0, 0.5, 0.1), trial(1, 0.2, 0.2)])
    load_example("search.py", monkeypatch).summary("random search", results, 1.0)
    out = capsys.readouterr().out
    assert results.best.number == 1
    assert "ranked by the last epoch's validation loss; the best: 0.2000 (accuracy 0.900)" in out
