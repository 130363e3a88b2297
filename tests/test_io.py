"""Saving and loading: exact round trips, no pickle, never a half-written file."""
import zipfile

import numpy as np
import pytest

import xpnet as xn


def trained(where=None, optimizer=None):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 3, 60)
    model = xn.Sequential([xn.Dense(6, init="glorot_uniform"), xn.LeakyReLU(0.05), xn.Dropout(0.1),
                           xn.Dense(3)], input_dim=4, **(where or {}))
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer or xn.Adam(0.01), epochs=2,
              batch_size=16)
    return model, X, y


def test_round_trip_is_exact(tmp_path, cpu_where):
    model, X, _ = trained(cpu_where)
    path = tmp_path / "model.npz"
    xn.save(model, path)
    loaded = xn.load(path)
    assert loaded.backend.name == model.backend.name and loaded.device == model.device
    assert [repr(layer) for layer in loaded.layers] == [repr(layer) for layer in model.layers]
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(loaded.get_weights()[name], value)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.epoch == 2 and loaded.history["loss"] == model.history["loss"]


def test_load_on_another_backend(tmp_path):
    model, X, _ = trained()
    xn.save(model, tmp_path / "m.npz")
    loaded = xn.load(tmp_path / "m.npz", device="cpu", backend="torch")
    assert loaded.backend.name == "torch"
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6)


def test_file_holds_no_pickled_objects(tmp_path):
    model, _, _ = trained()
    xn.save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        assert "config.npy" in archive.namelist()


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    model, _, _ = trained()
    path = tmp_path / "m.npz"
    xn.save(model, path)
    original = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        xn.save(model, path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_not_an_xpnet_file(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(xn.ModelFileError, match="not a valid xpnet model file: it has no 'config' entry"):
        xn.load(tmp_path / "other.npz")


def test_interrupted_run_resumes_bit_exactly(tmp_path, where):
    """Shuffling and dropout continue the same random streams after a checkpoint."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((70, 4)), rng.integers(0, 3, 70)

    def fresh():
        return xn.Sequential([xn.Dense(12), xn.ReLU(), xn.Dropout(0.3), xn.Dense(3)], input_dim=4,
                             dtype="float64", seed=1, **where)

    straight = fresh()
    straight.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), batch_size=16, epochs=5, seed=2)
    interrupted = fresh()
    interrupted.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), batch_size=16, epochs=2,
                    seed=2)
    xn.save(interrupted, tmp_path / "checkpoint.npz")
    del interrupted
    resumed = xn.load(tmp_path / "checkpoint.npz")
    resumed.fit(X, y, batch_size=16, epochs=3)
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value)
    assert resumed.history.iteration_cost == straight.history.iteration_cost


def test_population_round_trip(tmp_path):
    model = xn.Sequential([xn.Dense(3), xn.ReLU(), xn.Dense(1)], input_dim=2, seed=[1, 2], population=2)
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 2
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.Adam([0.01, 0.1]), epochs=2)
    xn.save(model, tmp_path / "population.npz")
    loaded = xn.load(tmp_path / "population.npz")
    assert loaded.population == 2 and loaded.optimizer.lr == [0.01, 0.1]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickle_and_deepcopy_give_identical_predictions(cpu_where, how):
    import copy
    import pickle

    model, X, y = trained(cpu_where)
    model.metadata = {"note": "kept"}
    twin = pickle.loads(pickle.dumps(model)) if how == "pickle" else copy.deepcopy(model)
    assert twin is not model and twin.backend.name == model.backend.name
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    assert twin.optimizer.t == model.optimizer.t and twin.metadata == {"note": "kept"}
    twin.fit(X, y, epochs=1)  # the copy trains on its own buffers
    model.fit(X, y, epochs=1)
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))


def test_old_weight_accessor_names_still_work_with_a_warning():
    model = xn.Sequential([xn.Dense(2)], input_dim=3)
    with pytest.warns(DeprecationWarning, match="get_weights"):
        weights = model.get_params()
    with pytest.warns(DeprecationWarning, match="set_weights"):
        model.set_params(weights)


def test_saving_metadata_that_is_not_json_says_so_and_writes_nothing(tmp_path):
    model, _, _ = trained()
    with pytest.raises(TypeError, match=r"cannot save the model: Object of type float32 is not JSON serializable; "
                                        r"metadata must hold only JSON values"):
        xn.save(model, tmp_path / "m.npz", metadata={"score": np.float32(0.5)})
    with pytest.raises(TypeError, match=r"expected an xpnet Sequential model, got dict"):
        xn.save({"0.W": np.zeros(3)}, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []
