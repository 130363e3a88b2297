"""CUDA graphs: a fixed program of kernel calls recorded once and replayed as one launch.

An eager training step on a GPU launches some thirty kernels, one at a time from Python, and at small
batch sizes the GPU waits for Python most of the time. A program whose every changing value is read on
the device (the training step of :class:`~xpnet.training.step.StepProgram`; a forward pass over a chunk
copied into a fixed input buffer) can be recorded into a CUDA graph once and launched as one unit
every later time. The first run of each program is eager (it also plans the products and creates every
buffer the graph touches) and is recorded as it goes; each run after it is one launch.

A :class:`Capture` is the backend's way of recording: :class:`CupyCapture` records on a CuPy stream,
with the products through cuBLASLt (:mod:`xpnet.kernels.nvmath`, since CuPy's cuBLAS calls cannot be
recorded) and with what the recording allocates taken from a memory pool of its own, kept with the
graphs; :class:`TorchCapture` uses ``torch.cuda.CUDAGraph``. Graphs are on by default on CUDA (for
training and for evaluation); ``fit(..., graphs=False)`` or ``XPNET_GRAPHS=0`` turns them off. Where
a program cannot be recorded (CuPy without nvmath-python; for training, a learning rate given as a
plain Python function, which must run on the host at every step), it runs eagerly and says why once.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings

from xpnet import checks
from xpnet.kernels import fast_kernels

ENVIRONMENT_SWITCH = "XPNET_GRAPHS"


class Capture:
    """How a backend records a step: ``kernels(k)`` is the kernel set to record with, ``record(run)``
    performs one real step, records ``run`` and returns the function that replays it, and ``scope()``
    is the context that every launch and every other operation of ``fit`` runs in."""

    def kernels(self, kernels):
        return kernels

    def record(self, run):
        raise NotImplementedError

    def scope(self):
        return contextlib.nullcontext()


class CupyCapture(Capture):
    """Records on a CuPy stream of its own, where all of ``fit`` runs while graphs are in use."""

    def __init__(self, backend):
        import cupy

        from xpnet.kernels import cupy as cupy_module
        from xpnet.kernels import numpy as numpy_module
        from xpnet.kernels.nvmath import Products

        self.cupy = cupy
        with backend.activate():
            self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()
        self.graphs: list = []
        self.recording_kernels = fast_kernels("cupy-graph", [Products(), cupy_module, numpy_module], cupy, backend.xp)

    def kernels(self, kernels):
        return self.recording_kernels

    def record(self, run):
        """The run and the recording on this capture's stream, ordered after the current stream's work;
        the replay launches on whatever stream is current then."""
        cupy = self.cupy
        cupy.cuda.get_current_stream().synchronize()
        with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            run()
            self.stream.begin_capture()
            try:
                run()
            finally:
                graph = self.stream.end_capture()
        self.stream.synchronize()
        self.graphs.append(graph)
        return lambda: graph.launch(cupy.cuda.get_current_stream())

    @contextlib.contextmanager
    def scope(self):
        self.cupy.cuda.get_current_stream().synchronize()
        with self.stream:
            try:
                yield
            finally:
                self.stream.synchronize()


class TorchCapture(Capture):
    """``torch.cuda.CUDAGraph``; the graphs of one ``fit`` share a memory pool."""

    def __init__(self, backend):
        self.backend = backend
        self.graphs: list = []
        self.pool = None

    def record(self, run):
        import torch

        side = torch.cuda.Stream(device=self.backend.device)
        side.wait_stream(torch.cuda.current_stream(self.backend.device))
        with torch.cuda.stream(side):
            run()
        torch.cuda.current_stream(self.backend.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        generator = getattr(self.backend.random, "generator", None)
        if generator is not None:
            graph.register_generator_state(generator)
        with torch.cuda.graph(graph, pool=self.pool):
            run()
        self.pool = graph.pool()
        self.graphs.append(graph)
        return graph.replay


def graphs_enabled(graphs: bool | None) -> bool | None:
    """``graphs`` if given, else the environment switch: None (the default, on where possible) unless
    ``XPNET_GRAPHS`` is 0/false/off/no."""
    graphs = checks.optional_flag(graphs, "graphs")
    if graphs is not None:
        return graphs
    off = os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() in ("0", "false", "off", "no")
    return False if off else None


def capture_for(backend, wanted: bool | None, obstacle: str | None = None, what: str = "trains") -> Capture | None:
    """The capture to record with on ``backend``, or None to run one kernel at a time. ``wanted`` is
    :func:`graphs_enabled`'s answer: True asks for graphs and is an error where the backend is not a CUDA
    GPU. Where recording is impossible (the backend's reason, or the caller's ``obstacle``), the reason
    is given once as a warning."""
    if wanted is False:
        return None
    on_gpu = backend.name == "cupy" or (backend.name == "torch" and backend.device.type == "cuda")
    if not on_gpu:
        if wanted:
            raise ValueError(f"graphs=True records CUDA graphs, which needs a model on a CUDA GPU; this one is "
                             f"on {backend.name}:{backend.device_name}")
        return None
    reason = obstacle or _reason_not_to_record(backend)
    if reason is not None:
        warnings.warn(f"xpnet {what} without CUDA graphs (one kernel launch at a time): {reason}", stacklevel=4)
        return None
    return CupyCapture(backend) if backend.name == "cupy" else TorchCapture(backend)


def _reason_not_to_record(backend) -> str | None:
    if backend.name == "cupy" and importlib.util.find_spec("nvmath") is None:
        return "recording matrix products on CuPy needs nvmath-python: pip install 'xpnet[cuda13]' (or cuda12)"
    if backend.name == "cupy" and backend.kernels.name == "reference":
        return ("the fast kernels are off (fast=False or XPNET_FAST=0), and the reference kernels' products go "
                "through cuBLAS, which cannot be recorded")
    return None


class Replays:
    """Runs programs (objects with ``run()``): eagerly, or (with a capture) by recording each program's
    first run and replaying it afterwards."""

    def __init__(self, model, capture: Capture | None):
        self.model, self.capture = model, capture
        self.replays: dict = {}

    def __call__(self, program) -> None:
        if self.capture is None:
            program.run()
            return
        replay = self.replays.get(program)
        if replay is not None:
            replay()
            return
        with self.model.kernels_in_use(self.capture.kernels(self.model.kernels)):
            self.replays[program] = self.capture.record(program.run)

    def forget(self, program) -> None:
        """Drop ``program``'s recording (its buffers are freed with it)."""
        self.replays.pop(program, None)

    def scope(self):
        return self.capture.scope() if self.capture is not None else contextlib.nullcontext()
