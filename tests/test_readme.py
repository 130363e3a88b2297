"""The README's Python snippets run as written (in order, in one namespace, as a reader would paste
them), with fewer epochs and trials so the run is short; fit's help names every argument."""
import inspect
import pathlib
import pydoc
import re

import pytest

import xpnet as xn

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
SHORTER = [(r"\bepochs=\d+", "epochs=2"), (r'"epochs": \d+', '"epochs": 1'), (r"\bn_trials=\d+", "n_trials=3"),
           (r"\brounds=\d+", "rounds=2")]


def python_blocks() -> list:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def shortened(code: str) -> str:
    for pattern, replacement in SHORTER:
        code = re.sub(pattern, replacement, code)
    return code


def test_the_readme_has_python_snippets():
    assert len(python_blocks()) >= 5


def test_the_readme_snippets_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for index, block in enumerate(python_blocks()):
        try:
            exec(compile(shortened(block), f"README.md python block {index + 1}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"README python block {index + 1} failed: {error!r}\n{block}") from error
    assert (tmp_path / "digits.npz").exists() and (tmp_path / "training.csv").exists()


def test_help_on_fit_documents_every_argument():
    text = pydoc.render_doc(xn.Sequential.fit, renderer=pydoc.plaintext)
    for name in inspect.signature(xn.Sequential.fit).parameters:
        if name != "self":
            assert f"``{name}``" in text or f"{name}=" in text, name
