"""Training many configurations: one after another, as populations on one device, or in worker
processes (one per core or per GPU), all with the same data and the same mini-batch order."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import multiprocessing
import os
import time

import numpy as np

from xpnet.model import Sequential
from xpnet.training.loop import DivergenceError
from xpnet.tune import trials

MODES = ("population", "sequential", "processes")


@dataclasses.dataclass
class Problem:
    """The data every trial trains and validates on, and where it trains.

    ``shuffle_seed`` fixes the mini-batch order, the same for every trial, so a configuration gives
    the same result whichever way it is run; the ``seed`` hyperparameter sets initial weights and
    dropout masks."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    loss: str
    output_dim: int
    device: str = "cpu"
    backend: str | None = None
    dtype: str = "float32"
    shuffle_seed: int = 0

    @property
    def input_dim(self) -> int:
        return int(np.shape(self.X_train)[1])


def run(problem: Problem, configs: list, mode: str = "population", workers: int | None = None,
        devices: list | None = None, first_number: int = 0) -> list:
    """Train every complete configuration; returns one :class:`~xpnet.tune.trials.TrialResult`
    each, in the order given. ``processes`` spreads population groups over ``workers`` processes,
    worker ``i`` on ``devices[i % len(devices)]`` (default: the problem's device)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    numbered = list(enumerate(configs, start=first_number))
    if mode == "sequential":
        return [result for item in numbered for result in train_group(problem, [item])]
    groups = group_by_shape(numbered)
    if mode == "population":
        results = [result for group in groups for result in train_group(problem, group)]
    else:
        results = _run_in_processes(problem, groups, workers, devices)
    return sorted(results, key=lambda result: result.number)


def group_by_shape(numbered: list) -> list:
    """Lists of ``(number, config)`` that can share one population."""
    groups: dict[tuple, list] = {}
    for number, config in numbered:
        groups.setdefault(trials.shape_key(config), []).append((number, config))
    return list(groups.values())


def train_group(problem: Problem, group: list) -> list:
    """Train same-shaped configurations together (a population; a plain model for one)."""
    numbers = [number for number, _ in group]
    configs = [config for _, config in group]
    first = configs[0]
    size = len(configs)
    dropout = trials.per_model(configs, "dropout") if "dropout" in first else None
    model = Sequential(
        trials.build_layers(first, problem.output_dim, dropout), input_dim=problem.input_dim,
        device=problem.device, backend=problem.backend, dtype=problem.dtype,
        seed=trials.per_model(configs, "seed"), population=size if size > 1 else None,
        init_scale=trials.per_model(configs, "init_scale"))
    l2 = trials.per_model(configs, "l2")
    started = time.perf_counter()
    diverged = np.zeros(size, dtype=bool)
    try:
        with np.errstate(all="ignore"):
            model.fit(problem.X_train, problem.y_train, loss=problem.loss,
                      optimizer=trials.build_optimizer(configs), batch_size=int(first["batch_size"]),
                      epochs=int(first["epochs"]), validation_data=(problem.X_val, problem.y_val),
                      seed=problem.shuffle_seed, l2=l2)
    except DivergenceError:
        diverged[:] = True
    seconds = (time.perf_counter() - started) / size
    diverged |= ~np.reshape(model.alive, size)
    histories = model.history.members() if size > 1 else [model.history]
    return [trials.summarize(number, config, history, seconds, bool(dead))
            for number, config, history, dead in zip(numbers, configs, histories, diverged)]


def _run_in_processes(problem, groups, workers, devices):
    workers = workers or os.cpu_count() or 1
    devices = devices or [problem.device]
    tasks = [(dataclasses.replace(problem, device=devices[i % len(devices)]), group)
             for i, group in enumerate(_balanced(groups, workers))]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                                                initializer=_one_thread_per_worker) as pool:
        chunks = pool.map(_train_chunk, tasks)
        return [result for chunk in chunks for result in chunk]


def _balanced(groups, workers):
    """Split groups so each worker gets work: large groups are cut into ``workers`` parts."""
    pieces = []
    for group in groups:
        size = math.ceil(len(group) / max(1, min(workers, len(group))))
        pieces += [group[i:i + size] for i in range(0, len(group), size)]
    return pieces


def _train_chunk(task):
    problem, group = task
    return train_group(problem, group)


def _one_thread_per_worker():
    """Workers share the cores: one BLAS thread each, so they do not oversubscribe the machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)
