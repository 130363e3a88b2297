"""Loading checks the whole file against its config before building anything: a model file is
loaded exactly or refused with one ModelFileError, never loaded wrong."""
import copy
import json
import pickle
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

import xpnet as xn
from xpnet import io

MiB = 2 ** 20


@pytest.fixture(scope="module")
def saved():
    """A trained model's arrays (what xn.save writes), its config and its predictions."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    model = xn.Sequential([xn.Dense(5), xn.BatchNorm(), xn.ReLU(), xn.Dropout(0.2), xn.Dense(3)], input_dim=4)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(xn.schedules.ExponentialDecay(0.01, 0.9)),
              epochs=2, batch_size=16)
    arrays = io.to_arrays(model)
    return arrays, json.loads(arrays["config"].tobytes()), model.predict(X), X


def write(path, arrays, config=None):
    """``arrays`` (with ``config`` as the JSON config, if given) as an .npz file at ``path``."""
    arrays = dict(arrays)
    if config is not None:
        arrays["config"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def edited(config, change):
    config = copy.deepcopy(config)
    change(config)
    return config


def without(arrays, prefix):
    return {name: value for name, value in arrays.items() if not name.startswith(prefix)}


def test_a_saved_model_loads_exactly(tmp_path, saved):
    arrays, _, predictions, X = saved
    np.testing.assert_array_equal(xn.load(write(tmp_path / "m.npz", arrays)).predict(X), predictions)


@pytest.mark.parametrize("prefix, missing", [
    ("params/", "['params/0.W', 'params/1.beta', 'params/1.gamma', 'params/4.W', 'params/4.b']"),
    ("params/0.W", "['params/0.W']"),
    ("state/", "['state/1.running_mean', 'state/1.running_var']"),
    ("optimizer/", "['optimizer/s', 'optimizer/v']"),
])
def test_missing_arrays_are_refused_not_initialized_afresh(tmp_path, saved, prefix, missing):
    arrays, _, _, _ = saved
    with pytest.raises(xn.ModelFileError, match="^not a valid xpnet model file: its config implies the arrays "
                                                + re.escape(missing)):
        xn.load(write(tmp_path / "m.npz", without(arrays, prefix)))


@pytest.mark.parametrize("name, value, message", [
    ("extra", np.zeros(3), r"holds arrays its config does not describe: \['extra'\]"),
    ("params/0.W", np.zeros((4, 6), np.float32), r"'params/0.W' has shape \(4, 6\) of float32; its config implies "
                                                 r"\(4, 5\) of float32"),
    ("params/0.W", np.zeros((4, 5)), r"'params/0.W' has shape \(4, 5\) of float64; its config implies \(4, 5\) "
                                     r"of float32"),
    ("params/0.W", np.zeros((4, 5), np.int64), r"'params/0.W' has dtype int64; model files hold only float arrays"),
    ("optimizer/v", np.zeros(3, np.float32), r"'optimizer/v' has shape \(3,\)"),
    ("config", np.zeros(3), r"'config' entry must be uint8 bytes"),
])
def test_arrays_must_be_exactly_those_of_the_config(tmp_path, saved, name, value, message):
    arrays, _, _, _ = saved
    with pytest.raises(xn.ModelFileError, match=message):
        xn.load(write(tmp_path / "m.npz", {**arrays, name: value}))


CONFIG_EDITS = [
    (lambda c: c.update(epoch="abc"), r"config: epoch must be an int >= 0, got 'abc'"),
    (lambda c: c.update(epoch=-3), r"config: epoch must be an int >= 0, got -3"),
    (lambda c: c["optimizer"].update(t=-5), r"config: optimizer t \(updates made\) must be an int >= 0, got -5"),
    (lambda c: c["optimizer"]["config"]["lr"].update(schedule="Nope"),
     r"config: optimizer: unknown learning-rate schedule 'Nope'"),
    (lambda c: c["optimizer"]["config"]["lr"].update(k=-1.0), r"config: optimizer: ExponentialDecay k must be"),
    (lambda c: c["optimizer"]["config"].update(beta1=2.0), r"config: optimizer: beta1 must be in \[0.0, 1.0\)"),
    (lambda c: c["optimizer"].update({"class": "Adagrad"}), r"config: optimizer: unknown optimizer 'Adagrad'"),
    (lambda c: c.pop("input_dim"), r"config: missing \['input_dim'\]"),
    (lambda c: c.update(extra=1), r"config: unknown entries \['extra'\]"),
    (lambda c: c.update(input_dim=4.0), r"config: input_dim must be a positive int, got 4.0"),
    (lambda c: c.update(version=2), r"config: format 'xpnet-model' version 2; this xpnet reads .* version 1"),
    (lambda c: c.update(dtype="float16"), r"config: dtype must be one of \['float32', 'float64'\], got 'float16'"),
    (lambda c: c.update(backend="jax"), r"config: backend must be one of"),
    (lambda c: c.update(loss="hinge"), r"config: loss must be one of"),
    (lambda c: c.update(seed=[1, 2]), r"config: seed has 2 values, one per model, which needs a population"),
    (lambda c: c.update(alive=[True]), r"config: alive must be true \(a single model\), got \[True\]"),
    (lambda c: c.update(alive=False), r"config: alive must be true \(a single model\), got False"),
    (lambda c: c.update(version=True), r"config: format 'xpnet-model' version True"),
    (lambda c: c.update(population=10 ** 30), r"config: alive must be a list of 10{30} true/false values"),
    (lambda c: c.update(layers=[]), r"config: layers must be a non-empty list"),
    (lambda c: c["layers"][0].update({"class": "Conv2D"}), r"config: layers\[0\]: unknown layer 'Conv2D'"),
    (lambda c: c["layers"][0]["config"].update(units="abc"), r"config: layers\[0\]: Dense units must be a positive"),
    (lambda c: c["layers"][0]["config"].update(scale=float("nan")), r"config: layers\[0\]: Dense scale must be"),
    (lambda c: c["layers"][0]["config"].update(activation="relu"), r"config: layers\[0\]: .*unexpected keyword"),
    (lambda c: c["layers"][3]["config"].update(rate=[0.1, 0.2]), r"config: Dropout rate has 2 values"),
    (lambda c: c["history"]["history"].update(loss="x"), r"config: history's per-epoch entries must be lists"),
    (lambda c: c["history"]["history"].update(loss=["x", "y"]), r"config: history\['loss'\] must be a list of numbers"),
    (lambda c: c["history"].update(iteration_cost=[[1.0]]), r"config: history\['iteration_cost'\] must be"),
    (lambda c: c["random"].update(device="cuda"), r"config: random was saved for backend='numpy', device='cuda', "
                                                   r"not the model's 'numpy', 'cpu'"),
    (lambda c: c.update(random=[]), r"config: random must be"),
    (lambda c: c.update(classes=5), r"config: classes must be null or \{'dtype': name, 'values': \[...\]\}"),
    (lambda c: c["classes"].update(values=[0, 1]), r"config: classes lists 2 labels, but the model has 3 outputs"),
    (lambda c: c["classes"].update(values=[2, 1, 0]), r"config: classes_ must hold distinct labels in sorted order"),
    (lambda c: c["classes"].update(dtype="O"), r"config: classes dtype must be of numbers, booleans or strings"),
    (lambda c: c["optimizer"].update(frozen=[True]), r"config: optimizer must be null or \{'class', 'config', 't'\}"),
]


@pytest.mark.parametrize("change, message", CONFIG_EDITS)
def test_every_config_field_is_checked_when_loading(tmp_path, saved, change, message):
    arrays, config, _, _ = saved
    with pytest.raises(xn.ModelFileError, match=message):
        xn.load(write(tmp_path / "m.npz", arrays, edited(config, change)))


@pytest.mark.parametrize("raw, message", [
    (b"[1, 2]", r"its config must be a JSON object, got a list"),
    (b"\xff\xfe{}", r"its config is not UTF-8 text"),
    (b"{'format': 1}", r"its config is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, r"its config is not valid JSON"),
])
def test_a_config_that_is_not_a_json_object_is_refused(tmp_path, saved, raw, message):
    arrays, _, _, _ = saved
    with pytest.raises(xn.ModelFileError, match=message):
        xn.load(write(tmp_path / "m.npz", {**arrays, "config": np.frombuffer(raw, dtype=np.uint8)}))


def test_a_saved_random_state_the_backend_cannot_resume_is_refused(tmp_path, saved):
    arrays, config, _, _ = saved
    config = edited(config, lambda c: c["random"].update(model={"bit_generator": "MT19937", "state": 1}))
    with pytest.raises(xn.ModelFileError, match=r"its saved random state is not one the numpy backend can resume"):
        xn.load(write(tmp_path / "m.npz", arrays, config))


RANDOM_BYTES = bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8))


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really", RANDOM_BYTES], ids=["empty", "zip-like", "random"])
def test_files_that_are_not_zip_archives_are_refused_without_mentioning_pickle(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(xn.ModelFileError, match=r"^not a valid xpnet model file: not a zip archive") as caught:
        xn.load(path)
    assert "pickle" not in caught.value.reason


def test_pickled_object_arrays_are_refused_without_being_read(tmp_path, saved):
    arrays, _, _, _ = saved
    path = tmp_path / "m.npz"
    np.savez(path, **arrays, extra=np.array([{"a": 1}], dtype=object))
    with pytest.raises(xn.ModelFileError, match=r"'extra' has dtype object") as caught:
        xn.load(path)
    assert "pickle" not in caught.value.reason


def test_an_entry_holding_more_or_fewer_bytes_than_its_header_declares_is_refused(tmp_path, saved):
    arrays, _, _, _ = saved
    path = write(tmp_path / "m.npz", arrays)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries["params/0.W.npy"] = entries["params/0.W.npy"][:-8]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(xn.ModelFileError, match=r"'params/0.W' declares shape \(4, 5\) of float32 \(80 bytes\) "
                                                r"but its entry holds 72 bytes"):
        xn.load(path)


def test_damaged_files_load_exactly_or_are_refused(tmp_path, saved):
    """Bytes flipped, cut off or inserted anywhere: the same model, or a ModelFileError."""
    arrays, _, predictions, X = saved
    good = write(tmp_path / "good.npz", arrays).read_bytes()
    rng = np.random.default_rng(1)
    outcomes = {"same": 0, "refused": 0}
    for trial in range(300):
        data = bytearray(good)
        position = int(rng.integers(len(data)))
        if trial % 3 == 0:
            data[position] ^= int(rng.integers(1, 256))
        elif trial % 3 == 1:
            del data[position:]
        else:
            data[position:position] = bytes(rng.integers(0, 256, int(rng.integers(1, 40)), np.uint8))
        path = tmp_path / "damaged.npz"
        path.write_bytes(bytes(data))
        try:
            loaded = xn.load(path)
        except xn.ModelFileError:
            outcomes["refused"] += 1
            continue
        np.testing.assert_array_equal(loaded.predict(X), predictions)
        outcomes["same"] += 1
    assert outcomes["refused"] > 250


def write_zeros_entry(archive, name: str, shape: tuple) -> None:
    """A compressed .npy entry of float64 zeros, written in chunks (nothing of its size is allocated)."""
    with archive.open(name + ".npy", "w", force_zip64=True) as entry:
        np.lib.format.write_array_header_1_0(entry, {"descr": "<f8", "fortran_order": False, "shape": shape})
        chunk = bytes(MiB)
        for _ in range(int(np.prod(shape)) * 8 // MiB):
            entry.write(chunk)


def peak_memory_of(action) -> int:
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_small_file_declaring_a_huge_network_is_refused_before_allocating_it(tmp_path, saved):
    """The config says Dense(4000) on 4000 inputs (16M weights) but the arrays are those of Dense(5)."""
    arrays, config, _, _ = saved
    config = edited(config, lambda c: (c.update(input_dim=4000), c["layers"][0]["config"].update(units=4000)))
    path = write(tmp_path / "m.npz", arrays, config)
    assert path.stat().st_size < 20_000

    def load():
        with pytest.raises(xn.ModelFileError, match=r"'params/0.W' has shape \(4, 5\) of float32; its config "
                                                    r"implies \(4000, 4000\)"):
            xn.load(path)

    assert peak_memory_of(load) < 4 * MiB


@pytest.mark.parametrize("name", ["extra", "params/0.W"])
def test_a_huge_compressed_array_is_refused_before_it_is_decompressed(tmp_path, saved, name):
    arrays, _, _, _ = saved
    path = write(tmp_path / "m.npz", {key: value for key, value in arrays.items() if key != name})
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        write_zeros_entry(archive, name, (4, 8 * MiB))  # 256 MiB of float64 zeros
    assert path.stat().st_size < 2 * MiB

    def load():
        with pytest.raises(xn.ModelFileError, match=rf"'{name}'"):
            xn.load(path)

    assert peak_memory_of(load) < 4 * MiB


class PickledModel:
    """Pickles as a model does (``io.from_arrays`` of its arrays), with whatever arrays it is given."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __reduce__(self):
        return io.from_arrays, (self.arrays,)


def test_unpickling_checks_the_data_like_loading(saved):
    arrays, config, predictions, X = saved
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(PickledModel(arrays))).predict(X), predictions)
    with pytest.raises(xn.ModelFileError, match=r"^not a valid xpnet model file: its config implies the arrays "
                                                r"\['params/0.W'\], which are missing \(the model data\)"):
        pickle.loads(pickle.dumps(PickledModel(without(arrays, "params/0.W"))))
    tampered = {**arrays, "config": np.frombuffer(json.dumps(edited(config, lambda c: c.update(epoch=-1))).encode(),
                                                  dtype=np.uint8)}
    with pytest.raises(xn.ModelFileError, match=r"epoch must be an int >= 0, got -1"):
        pickle.loads(pickle.dumps(PickledModel(tampered)))
    with pytest.raises(xn.ModelFileError, match=r"expected a dict of NumPy arrays"):
        io.from_arrays({"config": [1, 2]})


def test_a_device_the_saved_backend_cannot_use_names_the_file_and_the_way_out(tmp_path, saved):
    arrays, config, predictions, X = saved
    path = write(tmp_path / "m.npz", arrays, edited(config, lambda c: (c.update(device="tpu"),
                                                                     c["random"].update(device="tpu"))))
    with pytest.raises(ValueError, match=r"m.npz was saved on backend='numpy', device='tpu': device must be 'cpu' "
                                         r".*pass device= \(and backend=\) to load it elsewhere"):
        xn.load(path)
    np.testing.assert_array_equal(xn.load(path, device="cpu").predict(X), predictions)


def test_an_entry_claiming_more_than_its_compressed_bytes_can_hold_is_refused(tmp_path, saved):
    """A zip's sizes are declarations: one that no stored or deflated data can match is refused unread."""
    arrays, _, _, _ = saved
    path = write(tmp_path / "m.npz", arrays)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("params/0.W.npy")
    central = data.index(b"params/0.W.npy", data.index(b"PK\x01\x02")) - 46  # its central directory record
    data[central + 24:central + 28] = (10 ** 9).to_bytes(4, "little")  # the declared uncompressed size
    path.write_bytes(bytes(data))
    with pytest.raises(xn.ModelFileError, match=rf"'params/0.W' claims 1000000000 bytes, more than its "
                                                rf"{info.compress_size} compressed bytes can hold"):
        xn.load(path)


def test_only_stored_or_deflated_entries_are_read(tmp_path, saved):
    arrays, _, _, _ = saved
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as archive:
        for name, value in arrays.items():
            with archive.open(name + ".npy", "w") as entry:
                np.lib.format.write_array(entry, value)
    with pytest.raises(xn.ModelFileError, match=r"is compressed with method 12; xpnet.save stores arrays"):
        xn.load(path)
    np.savez_compressed(path, **arrays)
    xn.load(path)


ODD_VALUES = [None, True, -1, 0, 2.5, float("nan"), "x", [], [1, 2], {}, 10 ** 30]


def every_path(value, prefix=()):
    """Every place in a JSON document, as a tuple of keys and indices (lists: their first two items)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value[:2]) if isinstance(value, list) else ()
    for key, item in items:
        yield from every_path(item, prefix + (key,))


def test_any_config_field_changed_to_an_odd_value_is_refused_or_loads_whole(saved):
    """Every field of the config, one at a time, set to each odd value: a ModelFileError, or a model
    that predicts and survives another save and load."""
    arrays, config, _, X = saved
    outcomes = {"refused": 0, "loaded": 0}
    for path in [path for path in every_path(config) if path and path[0] != "metadata"]:
        for value in ODD_VALUES:
            changed = copy.deepcopy(config)
            parent = changed
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            text = json.dumps(changed).encode()
            try:
                model = io.from_arrays({**arrays, "config": np.frombuffer(text, dtype=np.uint8)})
            except xn.ModelFileError:
                outcomes["refused"] += 1
                continue
            if model.loss is not None:
                model.predict(X)
            io.from_arrays(io.to_arrays(model))
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 600 and outcomes["loaded"] > 100


def test_a_populations_frozen_models_and_a_classifiers_labels_load_back(tmp_path):
    """Frozen is not the same as diverged (not alive): a model a callback stopped stays stopped."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 2)), rng.choice(["cat", "dog"], 30)
    model = xn.Sequential([xn.Dense(1)], input_dim=2, population=3, seed=[0, 1, 2])
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD(0.1), epochs=1)
    model.optimizer.freeze([False, True, False])
    xn.save(model, tmp_path / "m.npz")
    loaded = xn.load(tmp_path / "m.npz")
    assert loaded.optimizer.frozen.tolist() == [False, True, False] and loaded.alive.tolist() == [True] * 3
    assert loaded.classes_.tolist() == ["cat", "dog"]
    config = json.loads(io.to_arrays(model)["config"].tobytes())
    config["optimizer"]["frozen"] = [True]
    with pytest.raises(xn.ModelFileError, match=r"optimizer frozen must be a list of 3 true/false values"):
        xn.load(write(tmp_path / "bad.npz", io.to_arrays(model), config))
    config["optimizer"].pop("frozen")  # as older files: the models that are not alive are frozen
    assert xn.load(write(tmp_path / "old.npz", io.to_arrays(model), config)).optimizer.frozen.tolist() == [False] * 3
