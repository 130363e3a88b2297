"""The main job: ``xpnet train``."""
import shutil
import subprocess

from xpnet.cli import main


def test_train_moons_prints_progress_and_accuracy(capsys):
    assert main(["train", "--dataset", "moons", "--epochs", "40", "--batch-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "epoch   40" in out
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.85


def test_train_digits_quietly(capsys):
    assert main(["train", "--dataset", "digits", "--epochs", "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "epoch" not in out
    assert float(out.split("test accuracy ")[1].split()[0]) >= 0.95


def test_bad_device_is_reported_not_raised(capsys):
    assert main(["train", "--dataset", "circles", "--device", "tpu", "--epochs", "1"]) == 2
    assert "device must be 'cpu'" in capsys.readouterr().err


def test_console_script_is_installed():
    command = shutil.which("xpnet")
    assert command is not None, "the xpnet command is not on PATH; install the package with pip"
    result = subprocess.run([command, "train", "--dataset", "circles", "--epochs", "30", "--quiet"],
                            capture_output=True, text=True, check=True)
    assert "test accuracy" in result.stdout
