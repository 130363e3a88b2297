"""Saving and loading models as one ``.npz`` archive, without pickle.

The archive holds plain float arrays (``params/<name>``, ``state/<name>``, ``optimizer/<slot>``)
and a JSON document (``config``, stored as UTF-8 bytes) describing the architecture, the loss, the
optimizer's hyperparameters and step count, the epoch count and the history. It is written
atomically (:mod:`xpnet.files`): a reader or a crash never sees a half-written file. Loading uses
``allow_pickle=False``.
"""
from __future__ import annotations

import json
import os

import numpy as np

from xpnet import files
from xpnet.model import Sequential
from xpnet.nn.layers import layer_from_config
from xpnet.nn.losses import get_loss
from xpnet.rng import make_random_source
from xpnet.training.history import History
from xpnet.training.optim import optimizer_from_config

FORMAT = "xpnet-model"
VERSION = 1


def save(model, path, metadata: dict | None = None) -> None:
    """Write architecture, parameters, state, optimizer state, epoch count, history and random
    states to ``path``; ``metadata`` (JSON-serializable) comes back as ``model.metadata``.

    An existing file keeps its permissions and owner, and a symbolic link is written through."""
    arrays = to_arrays(model, metadata)
    files.write_atomically(path, lambda file: np.savez(file, **arrays))


def to_arrays(model, metadata: dict | None = None) -> dict:
    """Everything :func:`save` writes, as name -> NumPy array (the JSON config as UTF-8 bytes)."""
    config = model.get_config()
    optimizer = model.optimizer
    config.update({"format": FORMAT, "version": VERSION, "epoch": model.epoch,
                   "loss": model.loss.name if model.loss is not None else None,
                   "history": model.history.to_dict(), "optimizer": None,
                   "alive": model.alive.tolist(), "random": _random_states(model),
                   "metadata": model.metadata if metadata is None else metadata})
    arrays = {f"params/{name}": value for name, value in model.param_buffer.to_host().items()}
    arrays.update({f"state/{name}": value for name, value in model.state_buffer.to_host().items()})
    if optimizer is not None:
        optimizer_state = optimizer.state_dict()
        optimizer_state.pop("frozen")  # the models that are not alive
        config["optimizer"] = {"class": type(optimizer).__name__, "config": optimizer.get_config(),
                               "t": optimizer_state.pop("t")}
        arrays.update({f"optimizer/{slot}": value for slot, value in optimizer_state.items()})
    arrays["config"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    return arrays


def load(path, device: str | None = None, backend: str | None = None):
    """Rebuild a saved model, by default on the backend and device it was saved from."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        if "config" not in archive.files:
            raise ValueError(f"{path!s} is not an xpnet model file (no 'config' entry)")
        arrays = {name: archive[name] for name in archive.files}
    return from_arrays(arrays, device, backend, source=str(path))


def from_arrays(arrays: dict, device: str | None = None, backend: str | None = None,
                source: str = "the model data"):
    """Inverse of :func:`to_arrays`: rebuild the model, by default where it was saved from."""
    config = json.loads(arrays["config"].tobytes().decode("utf-8"))
    arrays = {name: value for name, value in arrays.items() if name != "config"}
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ValueError(f"{source} is not an xpnet model file of version {VERSION} "
                         f"(format={config.get('format')!r}, version={config.get('version')!r})")
    if device is None and backend is None:
        device, backend = config["device"], config["backend"]
    layers = [layer_from_config(entry["class"], entry["config"]) for entry in config["layers"]]
    model = Sequential(layers, config["input_dim"], device=device or "cpu", dtype=config["dtype"],
                       seed=config["seed"], backend=backend, population=config.get("population"))
    model.set_weights({name.split("/", 1)[1]: value for name, value in arrays.items()
                      if name.startswith(("params/", "state/"))})
    model.loss = get_loss(config["loss"]) if config["loss"] is not None else None
    model.epoch = config["epoch"]
    model.history = History.from_dict(config["history"])
    model.alive = np.asarray(config["alive"], dtype=bool)
    model.metadata = config["metadata"]
    _restore_random_states(model, config["random"])
    if config["optimizer"] is not None:
        entry = config["optimizer"]
        model.optimizer = optimizer_from_config(entry["class"], entry["config"])
        state = {name.split("/", 1)[1]: value for name, value in arrays.items()
                 if name.startswith("optimizer/")}
        model.optimizer.load_state_dict({"t": entry["t"], **state}, model.param_buffer)
    return model


def _random_states(model) -> dict:
    """The dropout and shuffle streams' states (no shuffle stream before the first ``fit``)."""
    states = {"backend": model.backend.name, "device": model.device}
    for name, source in (("model", model.backend.random), ("shuffle", model.shuffle_random)):
        states[name] = source.get_state() if source is not None else None
    return states


def _restore_random_states(model, states: dict) -> None:
    """Resume the saved random streams when loading onto the same backend and device."""
    if (states["backend"], states["device"]) != (model.backend.name, model.device):
        return
    if states["model"] is not None:
        model.backend.random.set_state(states["model"])
    if states["shuffle"] is not None:
        backend = model.backend
        model.shuffle_random = make_random_source(backend.name, backend.xp, backend.device, None)
        model.shuffle_random.set_state(states["shuffle"])
