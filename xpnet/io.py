"""Saving and loading models as one ``.npz`` archive, without pickle.

The archive holds plain float arrays (``params/<name>``, ``state/<name>``, ``optimizer/<slot>``)
and a JSON document (``config``, stored as UTF-8 bytes) describing the architecture, the loss, the
optimizer's hyperparameters and step count, the epoch count and the history. It is written
atomically (:mod:`xpnet.files`): a reader or a crash never sees a half-written file. Loading checks
the whole file against its config before building anything (:mod:`xpnet.model_file`) and raises
:class:`~xpnet.model_file.ModelFileError` for anything else; it never unpickles.
"""
from __future__ import annotations

import json
import os

import numpy as np

from xpnet import files, model_file
from xpnet.model import Sequential
from xpnet.model_file import FORMAT, VERSION, ModelFileError
from xpnet.nn.losses import get_loss
from xpnet.rng import make_random_source
from xpnet.training.history import History


def save(model, path, metadata: dict | None = None) -> None:
    """Write architecture, parameters, state, optimizer state, epoch count, history and random
    states to ``path``; ``metadata`` (JSON-serializable) comes back as ``model.metadata``.

    An existing file keeps its permissions and owner, and a symbolic link is written through."""
    arrays = to_arrays(model, metadata)
    files.write_atomically(path, lambda file: np.savez(file, **arrays))


def to_arrays(model, metadata: dict | None = None) -> dict:
    """Everything :func:`save` writes, as name -> NumPy array (the JSON config as UTF-8 bytes)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"expected an xpnet Sequential model, got {type(model).__name__}")
    config = model.get_config()
    optimizer = model.optimizer
    config.update({"format": FORMAT, "version": VERSION, "epoch": model.epoch,
                   "loss": model.loss.name if model.loss is not None else None,
                   "history": model.history.to_dict(), "optimizer": None,
                   "alive": model.alive.tolist(), "random": _random_states(model),
                   "classes": None if model.classes_ is None else {"dtype": model.classes_.dtype.str,
                                                                   "values": model.classes_.tolist()},
                   "metadata": model.metadata if metadata is None else metadata})
    arrays = {f"params/{name}": value for name, value in model.param_buffer.to_host().items()}
    arrays.update({f"state/{name}": value for name, value in model.state_buffer.to_host().items()})
    if optimizer is not None:
        optimizer_state = optimizer.state_dict()
        frozen = optimizer_state.pop("frozen", False)
        config["optimizer"] = {"class": type(optimizer).__name__, "config": optimizer.get_config(),
                               "t": optimizer_state.pop("t")}
        if model.lead:
            config["optimizer"]["frozen"] = np.broadcast_to(frozen, model.lead).tolist()
        arrays.update({f"optimizer/{slot}": value for slot, value in optimizer_state.items()})
    try:
        text = json.dumps(config)
    except (TypeError, ValueError) as error:
        raise TypeError(f"cannot save the model: {error}; metadata must hold only JSON values (dicts, lists, "
                        "strings, numbers, True, False, None)") from error
    arrays["config"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return arrays


def load(path, device: str | None = None, backend: str | None = None):
    """Rebuild a saved model, by default on the backend and device it was saved from.

    The file is checked whole before anything is built; a file that is not a valid model raises
    :class:`~xpnet.model_file.ModelFileError` (a ValueError)."""
    source = os.fspath(path)
    with model_file.Archive(source) as archive:
        checked = model_file.check(archive.entries, archive.read, source)
        arrays = {name: archive.read(name) for name in archive.entries if name != "config"}
    return _build(checked, arrays, device, backend, source)


def from_arrays(arrays: dict, device: str | None = None, backend: str | None = None,
                source: str = "the model data"):
    """Inverse of :func:`to_arrays`: rebuild the model, by default where it was saved from (checked
    like :func:`load`)."""
    checked = model_file.check(model_file.entries_of(arrays, source), arrays.__getitem__, source)
    return _build(checked, arrays, device, backend, source)


def _build(checked: model_file.CheckedModel, arrays: dict, device, backend, source: str):
    """The model a checked file describes, with its arrays' values."""
    config = checked.config
    saved_place = device is None and backend is None
    if saved_place:
        device, backend = config["device"], config["backend"]
    try:
        model = Sequential(checked.layers, config["input_dim"], device=device or "cpu", dtype=config["dtype"],
                           seed=config["seed"], backend=backend, population=config["population"])
    except (ValueError, TypeError) as error:
        if not saved_place:
            raise
        raise ValueError(f"{source} was saved on backend={backend!r}, device={device!r}: {error}; "
                         "pass device= (and backend=) to load it elsewhere") from error
    model.set_weights({name.split("/", 1)[1]: value for name, value in arrays.items()
                       if name.startswith(("params/", "state/"))})
    model.loss = get_loss(config["loss"]) if config["loss"] is not None else None
    model.epoch = config["epoch"]
    model.history = History.from_dict(config["history"])
    model.alive = np.asarray(config["alive"], dtype=bool)
    model.classes_ = checked.classes
    model.metadata = config["metadata"]
    _restore_random_states(model, config["random"], source)
    if checked.optimizer is not None:
        state = {name.split("/", 1)[1]: value for name, value in arrays.items() if name.startswith("optimizer/")}
        frozen = config["optimizer"].get("frozen", ~model.alive)  # older files: the models not alive
        checked.optimizer.load_state_dict({**state, "t": config["optimizer"]["t"], "frozen": frozen},
                                          model.param_buffer)
        model.optimizer = checked.optimizer
    return model


def _random_states(model) -> dict:
    """The dropout and shuffle streams' states (no shuffle stream before the first ``fit``)."""
    states = {"backend": model.backend.name, "device": model.device}
    for name, source in (("model", model.backend.random), ("shuffle", model.shuffle_random)):
        states[name] = source.get_state() if source is not None else None
    return states


def _restore_random_states(model, states: dict, source: str) -> None:
    """Resume the saved random streams when loading onto the same backend and device."""
    if (states["backend"], states["device"]) != (model.backend.name, model.device):
        return
    backend = model.backend
    try:
        if states["model"] is not None:
            backend.random.set_state(states["model"])
        if states["shuffle"] is not None:
            shuffle = make_random_source(backend, None)
            shuffle.set_state(states["shuffle"])
            model.shuffle_random = shuffle
    except (ValueError, TypeError, KeyError, OverflowError, RuntimeError) as error:
        raise ModelFileError(f"its saved random state is not one the {backend.name} backend can resume "
                             f"({error})", source) from error
