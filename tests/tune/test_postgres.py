"""The Optuna bridge against a real PostgreSQL server: two workers share one study, nothing is lost or
run twice. The test starts its own server in a temporary directory (installing PostgreSQL with apt
where it is missing and the run is root), or skips saying why it cannot."""
import concurrent.futures
import glob
import multiprocessing
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest

import xpnet as xn
from xpnet import tune

SPACE = {"lr": tune.LogUniform(1e-3, 0.3), "units": tune.Choice([4, 8])}
BASE = {"layers": 1, "epochs": 2, "batch_size": 32}


def server_programs() -> str | None:
    """The directory holding initdb and pg_ctl, installing PostgreSQL with apt if need be."""
    def found():
        on_path = shutil.which("initdb")
        candidates = ([os.path.dirname(on_path)] if on_path else []) + sorted(
            glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        return next((d for d in candidates if os.access(os.path.join(d, "pg_ctl"), os.X_OK)), None)

    if found() is None and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
            subprocess.run(command, capture_output=True, timeout=900, env=environment)
    return found()


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg2", reason="needs psycopg2 (psycopg2-binary, in the test extra)")
    pytest.importorskip("optuna")
    programs = server_programs()
    if programs is None:
        pytest.skip("PostgreSQL is not installed and could not be installed with apt-get")
    user = "nobody" if os.geteuid() == 0 else None  # the server refuses to run as root
    directory = tempfile.mkdtemp(prefix="xpnet-postgres-")
    if user:
        account = pwd.getpwnam(user)
        os.chown(directory, account.pw_uid, account.pw_gid)
    data, log = os.path.join(directory, "data"), os.path.join(directory, "server.log")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def run(*command):
        return subprocess.run([os.path.join(programs, command[0]), *command[1:]], capture_output=True, text=True,
                              timeout=120, user=user, cwd=directory)

    created = run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if created.returncode != 0:
        pytest.skip(f"initdb failed: {created.stderr[-500:]}")
    started = run("pg_ctl", "-D", data, "-l", log, "-w", "-o",
                  f"-p {port} -k {directory} -c listen_addresses=127.0.0.1", "start")
    if started.returncode != 0:
        pytest.skip(f"pg_ctl start failed: {started.stderr[-500:]}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)


def test_two_workers_share_a_postgresql_study_without_losing_or_repeating_a_trial(postgres_url):
    import optuna

    from xpnet.tune import optuna as bridge

    X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=200, noise=0.2)
    problem = tune.Problem(X_train, y_train, X_val, y_val, "binary_cross_entropy", 1, dtype="float64")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:  # both create the tables
        futures = [pool.submit(bridge.work, postgres_url, "shared", SPACE, problem, 6, 3, BASE, seed)
                   for seed in (1, 2)]
        numbers = [future.result(timeout=300) for future in futures]
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    assert len(study.trials) == 12
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert sorted(numbers[0] + numbers[1]) == sorted(t.number for t in study.trials) == list(range(12))
    assert not set(numbers[0]) & set(numbers[1])
    assert study.best_value == min(t.value for t in study.trials)
