"""What a valid xpnet model file holds, checked before anything is built from it.

A model file is a zip archive of ``.npy`` entries, as ``np.savez`` writes it: ``config`` (a JSON
document as UTF-8 bytes, ``uint8``) and the float arrays ``params/<name>``, ``state/<name>`` and
``optimizer/<slot>``. The config implies exactly which arrays exist, with which shapes and dtype, so
a file is checked in this order, reading no array data until the end:

1. the zip's entries and each array's ``.npy`` header (shape, dtype), which must match the entry's size;
2. the config: every field present, of the right type and in range, the layers and the optimizer
   buildable;
3. the arrays: exactly those the config implies (no missing, no extra), each with its shape and dtype.

Any failure raises :class:`ModelFileError`. Memory use is thus bounded by the arrays the file
declares and the config implies: a small file that declares a huge network is refused before
anything of that size is allocated. Entries must be stored or deflated, and a declared size must be
one their compressed bytes can expand to, so what is read is at most ~1032 times the file's size
even when the zip's sizes lie. Pickled (object) arrays are refused.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import zipfile
import zlib

import numpy as np

from xpnet import checks, labels
from xpnet.backend import BACKENDS
from xpnet.checks import DTYPES
from xpnet.model import architecture, check_layers
from xpnet.nn.layers import Layer, layer_from_config
from xpnet.nn.losses import LOSSES
from xpnet.training.history import check_record
from xpnet.training.optim import Optimizer, optimizer_from_config

FORMAT = "xpnet-model"
VERSION = 1
CONFIG_KEYS = frozenset({"format", "version", "input_dim", "dtype", "device", "backend", "seed", "population",
                         "layers", "epoch", "loss", "history", "optimizer", "alive", "random", "metadata"})
#: Entries a file may lack (older files do): ``classes`` defaults to None.
OPTIONAL_KEYS = frozenset({"classes"})
RANDOM_KEYS = frozenset({"backend", "device", "model", "shuffle"})

#: The largest ratio of an entry's size to its compressed size: 1 stored, 1032 deflated (deflate's limit).
_MOST_EXPANDED = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}

#: What reading an untrusted zip archive or ``.npy`` header can raise besides ``ModelFileError``.
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, ValueError, TypeError, KeyError,
            OverflowError, NotImplementedError, RuntimeError, OSError)


class ModelFileError(ValueError):
    """A file (or unpickled data) that is not a valid xpnet model; nothing was built from it."""

    def __init__(self, reason: str, source: str | None = None):
        self.reason, self.source = reason, source
        super().__init__(f"not a valid xpnet model file: {reason}" + (f" ({source})" if source else ""))


@dataclasses.dataclass
class Entry:
    """One array of a model file as its header declares it."""

    shape: tuple
    dtype: np.dtype


@dataclasses.dataclass
class CheckedModel:
    """A model file's config once checked, with what the checks built: the layers (built for the
    input width, not bound), their parameter and state specs, and the optimizer (not bound)."""

    config: dict
    lead: tuple
    layers: list
    params: list
    states: list
    optimizer: Optimizer | None
    classes: np.ndarray | None


class Archive:
    """A ``.npz`` file opened for checking: entries and their headers are read at once, array data
    only by :meth:`read`. The file stays open until closed, so a save that replaces it meanwhile
    does not mix two versions."""

    def __init__(self, path: str):
        self.source = path
        self.file = open(path, "rb")  # noqa: SIM115 (closed by __exit__)
        self.size = os.fstat(self.file.fileno()).st_size
        try:
            self.zip = zipfile.ZipFile(self.file)
            self.entries = self._read_headers()
        except ModelFileError:
            self.file.close()
            raise
        except _DAMAGED as error:
            self.file.close()
            raise ModelFileError(f"not a zip archive of NumPy arrays as xpnet.save writes ({error})",
                                 path) from error

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def _read_headers(self) -> dict:
        entries: dict = {}
        for info in self.zip.infolist():
            if info.is_dir() or not info.filename.endswith(".npy"):
                raise ModelFileError(f"the archive holds {info.filename!r}, which is not a NumPy array (.npy)",
                                     self.source)
            name = info.filename[:-len(".npy")]
            if name in entries:
                raise ModelFileError(f"the archive holds {name!r} twice", self.source)
            self._check_sizes(info, name)
            with self.zip.open(info) as stream:
                entries[name] = _read_header(stream, name, info.file_size, self.source)
        return entries

    def _check_sizes(self, info: zipfile.ZipInfo, name: str) -> None:
        """An entry is stored or deflated, its compressed bytes lie inside the file, and its declared
        size is one they can expand to; so the arrays read are at most ~1032 times the file's size."""
        if info.compress_type not in _MOST_EXPANDED:
            raise ModelFileError(f"the array {name!r} is compressed with method {info.compress_type}; xpnet.save "
                                 "stores arrays (np.savez) or deflates them (np.savez_compressed)", self.source)
        if info.header_offset + info.compress_size > self.size:
            raise ModelFileError(f"the array {name!r} ends past the end of the file (truncated?)", self.source)
        if info.file_size > _MOST_EXPANDED[info.compress_type] * info.compress_size + 64:
            raise ModelFileError(f"the array {name!r} claims {info.file_size} bytes, more than its "
                                 f"{info.compress_size} compressed bytes can hold", self.source)

    def read(self, name: str) -> np.ndarray:
        """The array ``name``, after its entry's checksum is verified."""
        try:
            with self.zip.open(name + ".npy") as stream:
                array = np.lib.format.read_array(stream, allow_pickle=False)
                if stream.read(1):
                    raise ValueError("data after the array")
        except _DAMAGED as error:
            raise ModelFileError(f"the array {name!r} is damaged ({error})", self.source) from error
        return array


def _read_header(stream, name: str, size: int, source: str) -> Entry:
    """Shape and dtype from an ``.npy`` header; the entry must hold exactly that many bytes after it."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ModelFileError(f"the array {name!r} has a .npy header of version {version}, expected 1.0 or 2.0",
                             source)
    _check_dtype(name, dtype, source)
    declared = math.prod(shape) * dtype.itemsize
    if size - stream.tell() != declared:
        raise ModelFileError(f"the array {name!r} declares shape {shape} of {dtype} ({declared} bytes) but its "
                             f"entry holds {size - stream.tell()} bytes", source)
    return Entry(tuple(shape), dtype)


def entries_of(arrays, source: str) -> dict:
    """The entries of arrays already in memory (what :func:`xpnet.io.to_arrays` made)."""
    if not isinstance(arrays, dict) or not all(isinstance(value, np.ndarray) for value in arrays.values()):
        raise ModelFileError("expected a dict of NumPy arrays", source)
    for name, value in arrays.items():
        _check_dtype(name, value.dtype, source)
    return {name: Entry(value.shape, value.dtype) for name, value in arrays.items()}


def _check_dtype(name: str, dtype: np.dtype, source: str) -> None:
    if dtype.kind not in "fu":
        raise ModelFileError(f"the array {name!r} has dtype {dtype}; model files hold only float arrays and "
                             "the uint8 config", source)


def check(entries: dict, read, source: str) -> CheckedModel:
    """Check a model file's config and its arrays' names, shapes and dtypes (``entries``: name ->
    :class:`Entry`; ``read(name)`` gives an array, used only for the config)."""
    config_entry = entries.get("config")
    if config_entry is None:
        raise ModelFileError("it has no 'config' entry", source)
    if config_entry.dtype != np.uint8 or len(config_entry.shape) != 1:
        raise ModelFileError(f"its 'config' entry must be uint8 bytes, got {config_entry.dtype} of shape "
                             f"{config_entry.shape}", source)
    config = _parse_config(read("config"), source)
    with _reason("config", source):
        checked = _check_config(config)
    unused_optimizer = not any(name.startswith("optimizer/") for name in entries)
    expected = _expected_entries(checked, unused_optimizer)
    _compare(entries, expected, source)
    return checked


def _parse_config(raw: np.ndarray, source: str) -> dict:
    """The JSON object stored as bytes in ``raw``."""
    try:
        config = json.loads(raw.tobytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ModelFileError(f"its config is not UTF-8 text ({error})", source) from error
    except (ValueError, RecursionError) as error:
        raise ModelFileError(f"its config is not valid JSON ({error})", source) from error
    if not isinstance(config, dict):
        raise ModelFileError(f"its config must be a JSON object, got a {type(config).__name__}", source)
    return config


@contextlib.contextmanager
def _reason(what: str, source: str):
    """Turn an argument check's error inside the block into a ModelFileError about ``what``."""
    try:
        yield
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise ModelFileError(f"{what}: {error}", source) from error


def _check_config(config: dict) -> CheckedModel:
    missing, unknown = sorted(CONFIG_KEYS - set(config)), sorted(set(config) - CONFIG_KEYS - OPTIONAL_KEYS)
    if missing or unknown:
        raise ValueError(f"missing {missing}, unknown {unknown}" if missing and unknown else
                         f"missing {missing}" if missing else f"unknown entries {unknown}")
    if config["format"] != FORMAT or config["version"] != VERSION or isinstance(config["version"], bool):
        raise ValueError(f"format {config['format']!r} version {config['version']!r}; this xpnet reads "
                         f"{FORMAT!r} version {VERSION}")
    input_dim = checks.positive_int(config["input_dim"], "input_dim")
    _one_of(config["dtype"], "dtype", DTYPES)
    _one_of(config["backend"], "backend", BACKENDS)
    if not isinstance(config["device"], str):
        raise TypeError(f"device must be a string, got {config['device']!r}")
    lead = checks.population(config["population"])
    _check_alive(config["alive"], lead)  # first: it bounds the population by the config's own size
    _check_seeds(config["seed"], lead)
    layers = _layers(config["layers"])
    width, params, states = architecture(layers, input_dim, lead)
    checks.count(config["epoch"], "epoch")
    if config["loss"] is not None:
        _one_of(config["loss"], "loss", tuple(LOSSES))
    check_record(config["history"], lead)
    _check_random(config["random"], config["backend"], config["device"])
    classes = _classes(config.get("classes"))
    if classes is not None and classes.size != width and (width, classes.size) != (1, 2):
        raise ValueError(f"classes lists {classes.size} labels, but the model has {width} outputs")
    return CheckedModel(config, lead, layers, params, states, _optimizer(config["optimizer"], lead), classes)


def _one_of(value, name: str, options: tuple) -> None:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")


def _layers(entries) -> list:
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"layers must be a non-empty list, got {entries!r}")
    layers: list[Layer] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"class", "config"} or not isinstance(entry["config"], dict):
            raise ValueError(f"layers[{index}] must be {{'class': name, 'config': {{...}}}}, got {entry!r}")
        with _prefixed(f"layers[{index}]"):
            layers.append(layer_from_config(entry["class"], entry["config"]))
    return check_layers(layers)


@contextlib.contextmanager
def _prefixed(where: str):
    """Errors inside the block name ``where`` first (a layer's or the optimizer's arguments)."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from error


def _optimizer(entry, lead: tuple) -> Optimizer | None:
    """The optimizer an entry describes; a population's may list its ``frozen`` models (older files
    do not: then the models that are not alive are the frozen ones)."""
    if entry is None:
        return None
    keys = {"class", "config", "t"} | ({"frozen"} if lead else set())
    if not isinstance(entry, dict) or not {"class", "config", "t"} <= set(entry) <= keys:
        raise ValueError(f"optimizer must be null or {{{', '.join(map(repr, sorted(keys)))}}}, got {entry!r}")
    checks.count(entry["t"], "optimizer t (updates made)")
    frozen = entry.get("frozen", [])
    if lead and "frozen" in entry and not (isinstance(frozen, list) and len(frozen) == lead[0]
                                          and all(isinstance(value, bool) for value in frozen)):
        raise ValueError(f"optimizer frozen must be a list of {lead[0]} true/false values, got {frozen!r}")
    with _prefixed("optimizer"):
        optimizer = optimizer_from_config(entry["class"], entry["config"])
        optimizer.check_counts(lead)
    return optimizer


def _classes(entry) -> np.ndarray | None:
    """A classifier's labels: null, or ``{'dtype', 'values'}`` holding at least two distinct sorted labels
    (numbers, booleans or strings)."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or set(entry) != {"dtype", "values"} or not isinstance(entry["dtype"], str) \
            or not isinstance(entry["values"], list):
        raise ValueError(f"classes must be null or {{'dtype': name, 'values': [...]}}, got {entry!r}")
    dtype = np.dtype(entry["dtype"])
    if dtype.kind not in labels.LABEL_KINDS:
        raise ValueError(f"classes dtype must be of numbers, booleans or strings, got {entry['dtype']!r}")
    return labels.check_classes(np.asarray(entry["values"], dtype=dtype))


def _check_seeds(seed, lead: tuple) -> None:
    """One seed, or a list of one per model (not expanded: the population is not trusted yet)."""
    if isinstance(seed, list):
        checks.one_per_model(seed, "seed", lead)
    for value in seed if isinstance(seed, list) else [seed]:
        checks.seed(value)


def _check_alive(alive, lead: tuple) -> None:
    """One true/false per model of a population; a single model is always alive (it never freezes)."""
    if lead:
        valid = isinstance(alive, list) and len(alive) == lead[0] and all(isinstance(v, bool) for v in alive)
    else:
        valid = alive is True
    if not valid:
        expected = f"a list of {lead[0]} true/false values" if lead else "true (a single model)"
        raise ValueError(f"alive must be {expected}, got {alive!r}")


def _check_random(random, backend: str, device: str) -> None:
    """The random streams' states, saved from the model's own backend and device."""
    if not isinstance(random, dict) or set(random) != RANDOM_KEYS:
        raise ValueError(f"random must be {{'backend', 'device', 'model', 'shuffle'}}, got {random!r}")
    if (random["backend"], random["device"]) != (backend, device):
        raise ValueError(f"random was saved for backend={random['backend']!r}, device={random['device']!r}, "
                         f"not the model's {backend!r}, {device!r}")


def _expected_entries(checked: CheckedModel, unused_optimizer: bool) -> dict:
    """Every array the config implies: name -> (shape, dtype). An optimizer that has made no update
    and was never bound (``unused_optimizer``: the file holds none of its arrays) has no state yet."""
    lead, dtype = checked.lead, np.dtype(checked.config["dtype"])
    expected: dict[str, Entry | None] = {"config": None}  # the config's own entry was checked first
    expected.update({f"params/{spec.name}": Entry(lead + spec.shape, dtype) for spec in checked.params})
    expected.update({f"state/{spec.name}": Entry(lead + spec.shape, dtype) for spec in checked.states})
    if checked.optimizer is not None and not (unused_optimizer and checked.config["optimizer"]["t"] == 0):
        size = sum(spec.size for spec in checked.params)
        expected.update({f"optimizer/{slot}": Entry(lead + (size,), dtype) for slot in checked.optimizer.slots})
    return expected


def _compare(entries: dict, expected: dict, source: str) -> None:
    """Exactly the expected arrays, each of its shape and dtype (either byte order)."""
    missing, extra = sorted(set(expected) - set(entries)), sorted(set(entries) - set(expected))
    if missing:
        raise ModelFileError(f"its config implies the arrays {missing}, which are missing", source)
    if extra:
        raise ModelFileError(f"it holds arrays its config does not describe: {extra}", source)
    for name, want in expected.items():
        have = entries[name]
        if want is not None and (have.shape != want.shape or have.dtype.newbyteorder("=") != want.dtype):
            raise ModelFileError(f"the array {name!r} has shape {have.shape} of {have.dtype}; its config implies "
                                 f"{want.shape} of {want.dtype}", source)
