"""The training step: forward, loss, backward, L2 and the optimizer's update on one mini-batch.

Within an epoch the step is a fixed program: every array it reads or writes is allocated before the
first step, and every value that changes from step to step is read on the device at the step counter
``it`` (which mini-batch of the shuffled order, which row of the epoch's table of learning rates and
bias corrections, which slot of the epoch's recorded costs), and the step ends by advancing ``it``. So
the same sequence of kernel calls serves every mini-batch of a batch size: run one call at a time (the
eager step) or recorded once and replayed (a CUDA graph, :mod:`xpnet.graphs`), with the same
results. Nothing is read back to the host until the epoch ends.
"""
from __future__ import annotations

import numpy as np

from xpnet.backend import to_numpy
from xpnet.training import schedules


def loss_and_gradients(model, X, Y, loss, l2, weights=None):
    """A training-mode forward and backward pass; ``model.grads`` then holds
    ``d(data_cost + l2_penalty)/d(params)``. ``weights`` (``(m, 1)`` or None) weigh the samples' losses.

    Returns ``(data_cost, l2_penalty, logits)`` as device values (the penalty is None without L2)."""
    kernels, workspace = model.kernels, model.workspace
    logits = model.forward_on_device(X, training=True)
    cost, grad = loss.value_and_grad(kernels, logits, Y, weights, out=(
        workspace.get("loss", "cost", model.lead), workspace.get("loss", "dZ", logits.shape)))
    model.backward(grad, need_input_grad=False)
    if not l2.active:
        return cost, None, logits
    m = X.shape[-2]
    l2.add_gradient(kernels, model.param_buffer, model.grad_buffer, m)
    return cost, l2.penalty(kernels, model.param_buffer, m, out=workspace.get("loss", "l2", model.lead)), logits


def train_step(model, X, Y, loss, optimizer, l2, weights=None):
    """One mini-batch update on arrays already on the device: :func:`loss_and_gradients` (``weights``
    ``(m, 1)`` or None), then the optimizer's step. Returns ``(data_cost, l2_penalty, logits)`` as device
    values, without synchronizing."""
    with model.backend.activate():
        cost, penalty, logits = loss_and_gradients(model, X, Y, loss, l2, weights)
        optimizer.step(model.param_buffer, model.grad_buffer, model.epoch)
    return cost, penalty, logits


def training_cost(model, X, Y, loss, l2) -> float:
    """``data_cost + l2_penalty`` of a training-mode forward pass (no backward), as a host float
    (one model)."""
    kernels = model.kernels
    cost, _ = loss.value_and_grad(kernels, model.forward_on_device(X, training=True), Y)
    if l2.active:
        cost = cost + l2.penalty(kernels, model.param_buffer, X.shape[-2])
    return float(cost)


class EpochState:
    """What the steps of an epoch share on the device.

    ``it``: the step counter (0-d int64); ``order``: the epoch's shuffled row order (None: the data's
    own order); ``values``: this step's optimizer values (``optimizer.value_names``: the learning rate
    and, for Adam, its bias corrections), one per model of a population, selected by ``it`` from this
    epoch's ``tables``; ``series``: each step's data cost, L2 penalty and correct count, indexed by ``it``.

    An optimizer whose learning rate is a plain Python function cannot be tabled ahead of the epoch
    (the function may depend on anything, so it is called at each step, as it always was): then
    ``tabled`` is False and ``prepare_step`` writes each step's values from the host.
    """

    def __init__(self, model, optimizer, rows: int, steps: int, shuffle: bool, penalty: bool, correct: bool):
        backend, xp = model.backend, model.backend.xp
        self.backend, self.optimizer, self.steps, self.lead = backend, optimizer, steps, model.lead
        self.it = backend.zeros((), dtype=xp.int64)
        self.order = backend.zeros((rows,), dtype=xp.int64) if shuffle else None
        self.value_shape = model.lead + (1,) if model.lead else ()
        self.values = {name: backend.zeros(self.value_shape) for name in optimizer.value_names}
        self.tabled = schedules.is_tabulable(optimizer.lr)
        self.tables = {name: backend.zeros((steps,) + self.value_shape) for name in optimizer.value_names
                       } if self.tabled else {}
        self.names = ["cost"] + ["penalty"] * penalty + ["correct"] * correct
        self.series = {name: backend.zeros((steps,) + model.lead) for name in self.names}

    def start(self, epoch: int, order) -> None:
        """Before the epoch's first step: ``it = 0``, the epoch's order, and its table of optimizer values
        for updates ``t + 1 .. t + steps`` (``t`` updates made so far)."""
        with self.backend.activate():
            self.it[...] = 0
            if self.order is not None:
                self.order[...] = order
            if self.tabled:
                rows = [self.optimizer.step_values(epoch, self.optimizer.t + step + 1) for step in range(self.steps)]
                for name, table in self.tables.items():
                    values = np.stack([np.broadcast_to(np.asarray(row[name], dtype=np.float64), self.lead)
                                       for row in rows])
                    table[...] = self.backend.asarray(values.reshape(table.shape))

    def prepare_step(self, epoch: int) -> None:
        """Before each step when the values are not tabled: this step's values written from the host."""
        if not self.tabled:
            values = self.optimizer.step_values(epoch, self.optimizer.t + 1)
            for name, buffer in self.values.items():
                host = np.broadcast_to(np.asarray(values[name], dtype=np.float64), self.lead)
                buffer[...] = self.backend.asarray(host.reshape(self.value_shape))

    def select(self, kernels) -> None:
        """In the step: this step's row of every table into ``values``."""
        for name, table in self.tables.items():
            kernels.select_row(table, self.it, out=self.values[name])

    def read(self, params_flat) -> dict:
        """Every series, and whether all parameters are finite (per model), in ONE device-to-host read:
        name -> host array ``(steps,) + lead``, and ``"finite"`` -> host bool array ``lead``."""
        xp = self.backend.xp
        finite = xp.astype(xp.all(xp.isfinite(params_flat), axis=-1), self.series["cost"].dtype)
        parts = [xp.reshape(self.series[name], (-1,)) for name in self.names] + [xp.reshape(finite, (-1,))]
        flat = to_numpy(xp.concat(parts)).astype(np.float64)
        shape = (self.steps,) + self.lead
        size = int(np.prod(shape))
        host = {name: flat[i * size:(i + 1) * size].reshape(shape) for i, name in enumerate(self.names)}
        host["finite"] = flat[len(self.names) * size:].reshape(self.lead) > 0
        return host


class StepProgram:
    """The training step for mini-batches of ``rows`` examples, as a fixed sequence of kernel calls.

    ``run()`` does one step: gather mini-batch ``it`` (rows ``order[it * stride ...]`` of the data on the
    device: features X, targets Y and, when ``weighted``, per-example weights W ``(m, 1)``) into this
    program's batch buffers, select this step's optimizer values, forward, loss, backward, L2, the update,
    record the cost (and penalty and correct count) at ``it``, and advance ``it``. Every kernel gets its
    output buffer, so after the first run nothing is allocated.
    """

    def __init__(self, model, state: EpochState, X, Y, rows: int, stride: int, loss, optimizer, l2, W=None,
                 weighted: bool = False):
        self.model, self.state, self.loss, self.optimizer, self.l2 = model, state, loss, optimizer, l2
        self.X, self.Y, self.W, self.stride = X, Y, W, stride  # the data (set before running, when not given)
        self.X_batch = model.backend.empty((rows, model.input_dim))
        self.Y_batch = model.backend.empty((rows, model.output_dim))
        self.W_batch = model.backend.empty((rows, 1)) if weighted else None

    def run(self) -> None:
        model, state = self.model, self.state
        kernels = model.kernels
        with model.backend.activate():
            kernels.gather_rows(self.X, state.order, state.it, stride=self.stride, out=self.X_batch)
            kernels.gather_rows(self.Y, state.order, state.it, stride=self.stride, out=self.Y_batch)
            if self.W_batch is not None:
                kernels.gather_rows(self.W, state.order, state.it, stride=self.stride, out=self.W_batch)
            state.select(kernels)
            cost, penalty, logits = loss_and_gradients(model, self.X_batch, self.Y_batch, self.loss, self.l2,
                                                       self.W_batch)
            self.optimizer.update(kernels, model.param_buffer, model.grad_buffer, state.values)
            kernels.record_at(state.series["cost"], cost, state.it)
            if penalty is not None:
                kernels.record_at(state.series["penalty"], penalty, state.it)
            if "correct" in state.series:
                correct = self.loss.correct(kernels, logits, self.Y_batch,
                                            out=model.workspace.get("loss", "correct", model.lead))
                kernels.record_at(state.series["correct"], correct, state.it)
            kernels.increment(state.it)


class TrainingPrograms:
    """What ``fit`` builds to train a model, kept on the model and reused by a later ``fit`` with the
    same ``key`` (data shape, batch size, loss, optimizer and its settings, L2, shuffling): the
    :class:`EpochState`, one :class:`StepProgram` per batch size, and ``replays`` holding their recorded
    graphs, so a later ``fit`` replays them without recording again. Recorded programs read the data
    from buffers of their own (a graph reads fixed addresses), into which each ``fit`` copies its
    data; programs run one kernel at a time read the caller's arrays in place, copying nothing."""

    def __init__(self, model, key: tuple, rows: int, targets: int, weighted: bool, sizes: set, batch: int,
                 shuffle: bool, loss, optimizer, l2, replays):
        self.key, self.l2, self.replays = key, l2, replays
        self.data: tuple = ()  # the arrays last loaded
        self.buffers = None
        if replays.capture is not None:
            shapes = [(rows, model.input_dim), (rows, targets)] + [(rows, 1)] * weighted
            self.buffers = [model.backend.empty(shape) for shape in shapes]
        self.state = EpochState(model, optimizer, rows, -(-rows // batch), shuffle, l2.active, loss.has_accuracy)
        self.programs = {size: StepProgram(model, self.state, None, None, size, batch, loss, optimizer, l2,
                                           weighted=weighted) for size in sizes}

    def holds(self, X, Y, W=None) -> bool:
        """Whether these very arrays were loaded last."""
        return len(self.data) == 3 and all(mine is theirs for mine, theirs in zip(self.data, (X, Y, W)))

    def load(self, X, Y, W=None) -> None:
        """This fit's data (device arrays ``(rows, features)``, ``(rows, targets)`` and, when weighted,
        ``(rows, 1)``) for the programs."""
        self.data = (X, Y, W)
        arrays = [X, Y] + ([W] if W is not None else [])
        if self.buffers is not None:
            for buffer, array in zip(self.buffers, arrays):
                buffer[...] = array
            arrays = self.buffers
        for program in self.programs.values():
            program.X, program.Y = arrays[0], arrays[1]
            program.W = arrays[2] if len(arrays) == 3 else None
