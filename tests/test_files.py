"""Atomic writes: the old contents or the new, the target's permissions and owner kept, links written
through, the folder synced, and the temporary files of killed writers removed by the next write."""
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
from xpnet import files, tabular
from xpnet.tune.results import Results
from xpnet.tune.trials import TrialResult

REPOSITORY = Path(xn.__file__).resolve().parents[1]


def temporaries(folder: Path) -> list:
    return sorted(entry.name for entry in folder.iterdir() if ".xpnet-tmp" in entry.name)


def small_model(seed=0):
    return xn.Sequential([xn.Dense(4), xn.ReLU(), xn.Dense(2)], input_dim=3, seed=seed)


def save_model(path):
    xn.save(small_model(), path)


def save_results(path):
    trial = TrialResult(number=0, params={"lr": 0.1}, val_loss=0.5, best_val_loss=0.4, val_accuracy=0.9,
                        best_val_accuracy=0.9, epochs=3, seconds=1.0, diverged=False)
    Results([trial]).to_csv(path)


def save_table(path):
    tabular.save_csv(path, ["a", "b"], [[1, 2], [3, 4]])


WRITERS = pytest.mark.parametrize("write", [save_model, save_results, save_table], ids=["save", "to_csv", "save_csv"])


@WRITERS
def test_an_existing_file_keeps_its_permissions(tmp_path, write):
    path = tmp_path / "out.file"
    path.write_bytes(b"old")
    path.chmod(0o664)
    write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert path.read_bytes() != b"old"


@WRITERS
def test_a_new_file_gets_the_permissions_the_umask_allows(tmp_path, write):
    previous = os.umask(0o027)
    try:
        write(tmp_path / "out.file")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.file").stat().st_mode) == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_an_existing_file_keeps_its_owner(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path)
    os.chown(path, 12345, 23456)
    save_model(path)
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)


def test_the_temporary_file_is_private_while_it_is_written(tmp_path):
    seen = []

    def write(file):
        seen.append(stat.S_IMODE(os.stat(file.name).st_mode))
        file.write(b"secret")

    target = tmp_path / "secret.txt"
    target.write_bytes(b"")
    target.chmod(0o600)
    files.write_atomically(target, write)
    assert seen == [0o600] and stat.S_IMODE(target.stat().st_mode) == 0o600


@WRITERS
def test_a_symbolic_link_is_written_through(tmp_path, write):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "out.file"
    real.write_bytes(b"old")
    link = tmp_path / "link.file"
    link.symlink_to(real)
    write(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() != b"old"
    assert temporaries(tmp_path) == [] and temporaries(tmp_path / "real") == []


def test_the_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(descriptor):
        mode = os.fstat(descriptor).st_mode
        synced.append(("folder" if stat.S_ISDIR(mode) else "file", (tmp_path / "m.npz").exists()))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    save_model(tmp_path / "m.npz")
    assert synced == [("file", False), ("folder", True)]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")

    def interrupted(file):
        file.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_atomically(path, interrupted)
    assert path.read_bytes() == b"old" and temporaries(tmp_path) == []


def test_a_missing_folder_or_a_folder_as_target_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot write .*: there is no folder"):
        save_model(tmp_path / "no" / "m.npz")
    with pytest.raises(IsADirectoryError, match=r"cannot write .*: it is a folder"):
        save_model(tmp_path)


def test_a_device_or_pipe_is_not_replaced(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match=r"cannot write .*pipe': it is not a regular file"):
        save_table(tmp_path / "pipe")
    assert stat.S_ISFIFO((tmp_path / "pipe").stat().st_mode) and temporaries(tmp_path) == []


def stale(tmp_path, token: str, name="m.npz", age_s=60.0):
    """A temporary file as a killed writer leaves it, ``age_s`` old (negative: from the future)."""
    path = tmp_path / f".{name}.{token * 16}.xpnet-tmp{os.path.splitext(name)[1]}"
    path.write_bytes(b"half a model")
    moment = time.time() - age_s
    os.utime(path, (moment, moment))
    return path


def test_only_older_unheld_temporaries_of_the_same_target_are_removed(tmp_path):
    old = stale(tmp_path, "a")
    newer = stale(tmp_path, "b", age_s=-3600)  # younger than the save: a writer that has just begun
    other_target = stale(tmp_path, "c", name="other.npz")
    foreign = tmp_path / ".m.npz.backup"
    foreign.write_bytes(b"not ours")
    save_model(tmp_path / "m.npz")
    assert not old.exists()
    assert newer.exists() and other_target.exists() and foreign.exists()


WRITER = """
import sys
from xpnet import files

def write(file):
    file.write(b"first half, ")
    file.flush()
    print("writing", flush=True)
    sys.stdin.readline()
    file.write(b"second half")

files.write_atomically(sys.argv[1], write)
print("done", flush=True)
"""


def start_writer(path) -> subprocess.Popen:
    """A process that writes ``path`` and waits, in the middle of the write, for a line on stdin."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
    assert process.stdout.readline() == "writing\n"
    return process


def test_the_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "data.bin"
    writer = start_writer(path)
    assert len(temporaries(tmp_path)) == 1
    writer.kill()
    writer.wait()
    assert len(temporaries(tmp_path)) == 1 and not path.exists()
    files.write_atomically(path, lambda file: file.write(b"whole"))
    assert temporaries(tmp_path) == [] and path.read_bytes() == b"whole"


def test_a_live_writer_keeps_its_temporary_while_another_process_writes(tmp_path):
    path = tmp_path / "data.bin"
    writer = start_writer(path)
    held = temporaries(tmp_path)
    files.write_atomically(path, lambda file: file.write(b"from the test"))
    assert temporaries(tmp_path) == held and path.read_bytes() == b"from the test"
    writer.stdin.write("\n")
    writer.stdin.flush()
    assert writer.stdout.readline() == "done\n" and writer.wait() == 0
    assert temporaries(tmp_path) == [] and path.read_bytes() == b"first half, second half"


SAVER = """
import sys
import xpnet as xn

models = [xn.Sequential([xn.Dense(256), xn.ReLU(), xn.Dense(256)], input_dim=256, seed=seed) for seed in (0, 1)]
xn.save(models[0], sys.argv[1])
print("saving", flush=True)
count = 1
while True:
    xn.save(models[count % 2], sys.argv[1])
    count += 1
"""


def test_killed_while_saving_the_file_is_the_old_or_the_new_model(tmp_path):
    """Ten kill -9 at random moments of a process saving two models in turn over one path."""
    path = tmp_path / "m.npz"
    expected = [xn.Sequential([xn.Dense(256), xn.ReLU(), xn.Dense(256)], input_dim=256, seed=seed).get_weights()
                for seed in (0, 1)]
    delays = np.random.default_rng(7).uniform(0.0, 0.3, size=10)
    for delay in delays:
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
        assert saver.stdout.readline() == "saving\n"
        time.sleep(delay)
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        weights = xn.load(path).get_weights()
        assert any(all(np.array_equal(weights[name], model[name]) for name in model) for model in expected)
        xn.save(xn.load(path), path)  # the next save removes what the killed one left
        assert temporaries(tmp_path) == []


CONCURRENT_SAVER = """
import sys
import xpnet as xn

model = xn.Sequential([xn.Dense(64), xn.ReLU(), xn.Dense(64)], input_dim=64, seed=int(sys.argv[2]))
for _ in range(40):
    xn.save(model, sys.argv[1])
"""


def test_two_processes_saving_one_path_at_once_leave_one_whole_model(tmp_path):
    path = tmp_path / "m.npz"
    savers = [subprocess.Popen([sys.executable, "-c", CONCURRENT_SAVER, str(path), str(seed)],
                               env={**os.environ, "PYTHONPATH": str(REPOSITORY)}) for seed in (0, 1)]
    assert [saver.wait() for saver in savers] == [0, 0]
    weights = xn.load(path).get_weights()
    assert any(np.array_equal(weights["0.W"], xn.Sequential([xn.Dense(64), xn.ReLU(), xn.Dense(64)], input_dim=64,
                                                            seed=seed).get_weights()["0.W"]) for seed in (0, 1))
    assert temporaries(tmp_path) == []
