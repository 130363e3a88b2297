"""What fit prints: nothing, a progress bar per epoch on a terminal, or a line per epoch, and never a
device read inside an epoch to do it."""
import io
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet.training import loop, step


class Terminal(io.StringIO):
    def isatty(self):
        return True


def fit(verbose, epochs=2, **options):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 4)), rng.integers(0, 3, 100)
    model = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(3)], input_dim=4)
    return model.fit(X, y, loss="softmax_cross_entropy", epochs=epochs, batch_size=25, verbose=verbose, **options)


@pytest.mark.parametrize("verbose", [0, False])
def test_verbose_0_prints_nothing(capsys, monkeypatch, verbose):
    monkeypatch.setattr(sys, "stderr", Terminal())
    fit(verbose)
    assert capsys.readouterr().out == "" and sys.stderr.getvalue() == ""


@pytest.mark.parametrize("verbose, terminal", [(2, True), (1, False), (True, False)])
def test_a_line_per_epoch(capsys, monkeypatch, verbose, terminal):
    if terminal:
        monkeypatch.setattr(sys, "stderr", Terminal())
    fit(verbose, epochs=3, validation_split=0.2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("epoch    3  loss ")
    assert "val_loss" in lines[-1] and "accuracy" in lines[-1]


def test_a_bar_per_epoch_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    history = fit(1, epochs=2)
    assert capsys.readouterr().out == ""
    shown = terminal.getvalue()
    assert "epoch 1" in shown and "epoch 2" in shown and "4/4" in shown
    assert f"last epoch: loss {history['loss'][0]:.4g}" in shown  # the bar of epoch 2 shows epoch 1's loss
    assert f"loss {history['loss'][1]:.4g}" in shown


def test_without_tqdm_a_terminal_gets_lines(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setitem(sys.modules, "tqdm", None)
    fit(1, epochs=2)
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_the_bar_reads_nothing_from_the_device(monkeypatch):
    """One device-to-host read per epoch (the epoch's values), with or without a bar."""
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys, "stderr", Terminal())
    reads = []
    original = loop.to_numpy
    for module in (loop, step):  # the step programs read their epoch's values, streamed batches the loop's
        monkeypatch.setattr(module, "to_numpy", lambda array: reads.append(1) or original(array))
    fit(1, epochs=3)
    assert len(reads) == 3
