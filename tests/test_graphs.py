"""The training step recorded once and replayed (CUDA graphs), checked on the CPU: the CuPy kernels,
the nvmath products and the recording run through stand-ins (``graph_stand_in``), and a replayed epoch
must equal the eager one bit for bit; the real CUDA runs are in ci/gpu.sh."""
import numpy as np
import pytest

import xpnet as xn
from xpnet import graphs

import graph_stand_in
import support

rng = np.random.default_rng(3)
X = rng.standard_normal((70, 5))
LABELS = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)


@pytest.fixture
def stand_in_gpu(monkeypatch):
    """Models are made on the CuPy-like NumPy backend, and fit records with a RecordingCapture."""
    monkeypatch.setattr(xn.model, "resolve_backend", graph_stand_in.stand_in_gpu_backend)
    captures = []

    def capture_for(backend, wanted, obstacle=None, what="trains"):
        if wanted is False or obstacle is not None:
            return None
        captures.append(graph_stand_in.RecordingCapture())
        return captures[-1]

    monkeypatch.setattr(graphs, "capture_for", capture_for)
    return captures


def network(population=None, dropout=0.2, seed=1):
    layers = [xn.Dense(12), xn.ReLU(), xn.Dense(10), xn.BatchNorm(), xn.Tanh(), xn.Dropout(dropout), xn.Dense(8),
              xn.LeakyReLU(0.1), xn.Dense(3)]
    return xn.Sequential(layers, input_dim=5, dtype="float64", population=population,
                         seed=[seed + i for i in range(population)] if population else seed)


def train_both_ways(make_model, make_fits):
    """The same model trained with recorded steps and one kernel at a time: (recorded, eager);
    ``make_fits()`` gives each run its own fit arguments (optimizers and callbacks change as they run)."""
    results = []
    for graphs_on in (True, False):
        model = make_model()
        for arguments in make_fits():
            model.fit(X, LABELS, graphs=None if graphs_on else False, **arguments)
        results.append(model)
    return results


def assert_same(recorded, eager):
    for name, value in eager.get_weights().items():
        np.testing.assert_array_equal(recorded.get_weights()[name], value, err_msg=name)
    assert recorded.history.iteration_cost == eager.history.iteration_cost
    assert recorded.history.history == eager.history.history
    assert recorded.optimizer.t == eager.optimizer.t
    for slot, value in eager.optimizer.state_dict().items():
        np.testing.assert_array_equal(recorded.optimizer.state_dict()[slot], value, err_msg=slot)


OPTIMIZERS = {
    "sgd": lambda: xn.SGD(0.05),
    "nesterov": lambda: xn.Momentum(0.05, nesterov=True),
    "rmsprop": lambda: xn.RMSprop(0.005),
    "adam": lambda: xn.Adam(0.01),
    "adamw": lambda: xn.AdamW(0.01, weight_decay=0.1),
    "adam-inverse-time": lambda: xn.Adam(xn.schedules.InverseTimeDecay(0.01, 0.5)),
    "sgd-staircase": lambda: xn.SGD(xn.schedules.InverseTimeDecay(0.1, 1.0, interval=2)),
    "momentum-cosine-steps": lambda: xn.Momentum(xn.schedules.CosineWithWarmup(0.05, 30, warmup=4, unit="step")),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_replayed_epochs_equal_eager_ones_bit_for_bit(stand_in_gpu, name):
    """Dropout, batch norm, fused Dense + ReLU, every optimizer and schedule, L2, a short last batch
    (70 = 3 x 20 + 10), shuffling, and a second fit continuing the first."""
    def fits():
        return [{"loss": "softmax_cross_entropy", "optimizer": OPTIMIZERS[name](), "batch_size": 20, "epochs": 3,
                 "l2": 0.01, "seed": 0}, {"epochs": 2}]

    recorded, eager = train_both_ways(network, fits)
    assert_same(recorded, eager)
    capture = stand_in_gpu[0]
    assert capture.recorded == 2  # one graph per batch size: 20 and the last 10
    steps_per_epoch = 4
    assert capture.replayed == 3 * steps_per_epoch - 2  # each batch size's first step ran while it was recorded
    assert np.isfinite(recorded.history["loss"]).all()


def test_a_population_replays_equal_to_eager(stand_in_gpu):
    def fits():
        return [{"loss": "softmax_cross_entropy", "optimizer": xn.Adam([0.01, 0.003, 0.02]), "batch_size": 16,
                 "epochs": 3, "l2": [0.0, 0.01, 0.1], "seed": 4}]

    recorded, eager = train_both_ways(lambda: network(population=3, dropout=[0.0, 0.3, 0.5]), fits)
    assert_same(recorded, eager)


@pytest.mark.parametrize("loss, targets", [("binary_cross_entropy", (LABELS > 0).astype(float)),
                                           ("mse", X[:, :2] * 0.5)])
def test_other_losses_replay_equal_to_eager(stand_in_gpu, loss, targets):
    outputs = targets.shape[1] if targets.ndim == 2 else 1
    models = []
    for graphs_on in (True, False):
        model = xn.Sequential([xn.Dense(9), xn.ReLU(), xn.Dense(outputs)], input_dim=5, dtype="float64", seed=2)
        model.fit(X, targets, loss=loss, optimizer=xn.Adam(0.01), batch_size=25, epochs=3, seed=1,
                  graphs=None if graphs_on else False)
        models.append(model)
    assert_same(*models)


def test_divergence_rolls_back_the_same_way(stand_in_gpu):
    states = []
    for graphs_on in (True, False):
        model = xn.Sequential([xn.Dense(12), xn.ReLU(), xn.Dropout(0.3), xn.Dense(3)], input_dim=5,
                              dtype="float64", seed=5)
        model.fit(X, LABELS, loss="softmax_cross_entropy", optimizer=xn.SGD(0.01), batch_size=20, epochs=1, seed=0)
        before = model.get_weights()
        with pytest.raises(xn.DivergenceError), np.errstate(all="ignore"):
            model.fit(X * 1e150, LABELS, optimizer=xn.SGD(1e200), epochs=2, graphs=None if graphs_on else False)
        after = model.get_weights()
        for name, value in before.items():
            np.testing.assert_array_equal(after[name], value)
        states.append((model.optimizer.t, model.epoch))
    assert states[0] == states[1] == (0, 1)  # the new optimizer back at its start, one epoch done


def test_evaluation_replays_its_forward_pass_per_chunk_size(stand_in_gpu, monkeypatch):
    """predict and evaluate (and fit's validation) replay one recorded forward pass per chunk size."""
    monkeypatch.setattr(xn.evaluation, "EVAL_ROWS", 30)
    models = []
    for graphs_on in ("1", "0"):
        monkeypatch.setenv("XPNET_GRAPHS", graphs_on)
        model = network()
        model.fit(X, LABELS, loss="softmax_cross_entropy", batch_size=20, epochs=2,
                  validation_data=(X[:45], LABELS[:45]))
        models.append((model, [model.predict(X), model.predict(X[:7]), model.evaluate(X, LABELS)]))
    (recorded, results), (eager, expected) = models
    np.testing.assert_array_equal(results[0], expected[0])
    np.testing.assert_array_equal(results[1], expected[1])
    assert results[2] == expected[2]
    assert recorded.history.history == eager.history.history
    assert sorted(recorded.evaluation_programs().programs) == [7, 10, 15, 30]  # 45 = 30 + 15, 70 = 30 + 30 + 10
    runs = 2 * 2 + 3 + 1 + 3  # validation in two epochs, predict(X), predict(X[:7]), evaluate(X)
    assert stand_in_gpu[1].recorded == 4 and stand_in_gpu[1].replayed == runs - 4


def test_a_python_function_as_learning_rate_trains_eagerly_and_says_why(monkeypatch):
    monkeypatch.setattr(xn.model, "resolve_backend", graph_stand_in.stand_in_gpu_backend)
    monkeypatch.setattr(graphs, "_reason_not_to_record", lambda backend: None)
    model = xn.Sequential([xn.Dense(4), xn.ReLU(), xn.Dense(3)], input_dim=5, seed=0)
    optimizer = xn.SGD(xn.schedules.per_step(lambda step: 0.1 / (1 + step)))
    with pytest.warns(UserWarning, match="xpnet trains without CUDA graphs .* the learning rate is a Python function"):
        model.fit(X, LABELS, loss="softmax_cross_entropy", optimizer=optimizer, epochs=1)
    assert model.optimizer.t == 3


def test_cupy_without_nvmath_says_why(monkeypatch):
    monkeypatch.setattr(graphs.importlib.util, "find_spec", lambda name: None)
    backend = graph_stand_in.stand_in_gpu_backend()
    with pytest.warns(UserWarning, match="needs nvmath-python: pip install 'xpnet\\[cuda13\\]'"):
        assert graphs.capture_for(backend, None) is None


def test_a_recorded_step_that_allocates_is_caught(stand_in_gpu, monkeypatch):
    """The stand-in refuses what a CUDA graph cannot hold: here a kernel called without out=."""
    from xpnet.nn import layers

    def allocating(self, Z, out):
        return self.kernels.tanh(Z)

    monkeypatch.setattr(layers.Tanh, "activate", allocating)
    with pytest.raises(graph_stand_in.HostAccessDuringRecording, match="tanh was recorded without out="):
        network().fit(X, LABELS, loss="softmax_cross_entropy", batch_size=20, epochs=1)


def test_graphs_need_a_gpu_and_can_be_switched_off(monkeypatch):
    model = xn.Sequential([xn.Dense(3)], input_dim=5)
    with pytest.raises(ValueError, match="graphs=True records CUDA graphs, which needs a model on a CUDA GPU"):
        model.fit(X, LABELS, loss="softmax_cross_entropy", graphs=True)
    monkeypatch.setenv("XPNET_GRAPHS", "0")
    assert graphs.graphs_enabled(None) is False
    monkeypatch.setenv("XPNET_GRAPHS", "1")
    assert graphs.graphs_enabled(None) is None and graphs.graphs_enabled(True) is True


def test_the_nvmath_products_equal_the_numpy_ones():
    """Each product of the recorded step (bias and ReLU in the epilogue, the transposed layouts, a
    population's batches and its shared input) against the NumPy fast path."""
    import array_api_compat.numpy as compat

    from xpnet.kernels import numpy as numpy_kernels
    from xpnet.kernels import reference

    products = graph_stand_in.recording_kernels()
    rng = np.random.default_rng(0)
    for lead in ((), (3,)):
        X, W, b = rng.standard_normal((6, 4)), rng.standard_normal(lead + (4, 5)), rng.standard_normal(lead + (5,))
        dZ = rng.standard_normal(lead + (6, 5))
        support.assert_close(products.dense_forward(X, W, b, out=np.empty(lead + (6, 5))),
                             numpy_kernels.dense_forward(np, X, W, b), rtol=1e-12)
        support.assert_close(products.dense_relu(X, W, b, out=np.empty(lead + (6, 5))),
                             reference.dense_relu(compat, X, W, b), rtol=1e-12)
        support.assert_close(products.dense_leaky_relu(X, W, b, alpha=0.2, out=np.empty(lead + (6, 5))),
                             reference.dense_leaky_relu(compat, X, W, b, alpha=0.2), rtol=1e-12)
        support.assert_close(products.weight_grad(X, dZ, out=np.empty(lead + (4, 5))),
                             numpy_kernels.weight_grad(np, X, dZ), rtol=1e-12)
        support.assert_close(products.input_grad(dZ, W, out=np.empty(lead + (6, 4))),
                             numpy_kernels.input_grad(np, dZ, W), rtol=1e-12)


def test_a_later_fit_with_the_same_settings_replays_the_recorded_steps(stand_in_gpu):
    model = network()
    optimizer = xn.Momentum(0.05)
    model.fit(X, LABELS, loss="softmax_cross_entropy", optimizer=optimizer, batch_size=20, epochs=1, seed=0)
    first = stand_in_gpu[-1]
    model.fit(X[::-1].copy(), LABELS[::-1].copy(), batch_size=20, epochs=2)  # new data, same shape
    assert len(stand_in_gpu) == 1 and first.recorded == 2 and first.replayed == 2 + 2 * 4
    optimizer.set(beta=0.5)  # a setting a recorded step holds: recorded again
    model.fit(X, LABELS, batch_size=20, epochs=1)
    assert len(stand_in_gpu) == 2
    model.fit(X, LABELS, batch_size=35, epochs=1)  # another batch size: recorded again
    assert len(stand_in_gpu) == 3

    eager = network()
    eager_optimizer = xn.Momentum(0.05)
    eager.fit(X, LABELS, loss="softmax_cross_entropy", optimizer=eager_optimizer, batch_size=20, epochs=1, seed=0,
              graphs=False)
    eager.fit(X[::-1].copy(), LABELS[::-1].copy(), batch_size=20, epochs=2, graphs=False)
    eager_optimizer.set(beta=0.5)
    eager.fit(X, LABELS, batch_size=20, epochs=1, graphs=False)
    eager.fit(X, LABELS, batch_size=35, epochs=1, graphs=False)
    assert_same(model, eager)


# On a real GPU (ci/gpu.sh): the recorded step against the eager one. The products differ (cuBLASLt
# through nvmath when recorded, cuBLAS when eager), so these compare to a tolerance.

GPU_BACKENDS = [pytest.param({"backend": "cupy", "device": "cuda"}, marks=support.needs_cupy_gpu, id="cupy"),
                pytest.param({"backend": "torch", "device": "cuda"}, id="torch-cuda",
                             marks=pytest.mark.skipif(not support.HAS_TORCH_GPU, reason="needs torch with CUDA"))]


@pytest.mark.parametrize("where", GPU_BACKENDS)
@pytest.mark.parametrize("name", ["nesterov", "adam", "momentum-cosine-steps"])
def test_on_a_gpu_recorded_training_matches_eager(where, name):
    models = []
    for graphs_on in (True, False):
        model = xn.Sequential([xn.Dense(12), xn.ReLU(), xn.Dense(10), xn.BatchNorm(), xn.Tanh(), xn.Dropout(0.2),
                               xn.Dense(3)], input_dim=5, dtype="float64", seed=1, **where)
        model.fit(X, LABELS, loss="softmax_cross_entropy", optimizer=OPTIMIZERS[name](), batch_size=20, epochs=3,
                  l2=0.01, seed=0, graphs=graphs_on, validation_data=(X[:30], LABELS[:30]))
        models.append(model)
    for key, value in models[1].get_weights().items():
        np.testing.assert_allclose(models[0].get_weights()[key], value, rtol=1e-9, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(models[0].history["val_loss"], models[1].history["val_loss"], rtol=1e-9)


def test_weights_validation_split_and_callbacks_replay_equal_to_eager(stand_in_gpu):
    weights = np.random.default_rng(4).random(70) + 0.5

    def fits():
        return [{"loss": "softmax_cross_entropy", "optimizer": xn.Adam(0.02), "batch_size": 16, "epochs": 6,
                 "sample_weight": weights, "class_weight": "balanced", "validation_split": 0.2, "seed": 2,
                 "callbacks": [xn.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
                               xn.callbacks.ReduceLROnPlateau(factor=0.5, patience=1)]}]

    recorded, eager = train_both_ways(network, fits)
    assert_same(recorded, eager)
    assert stand_in_gpu[0].recorded == 2 and stand_in_gpu[0].replayed > 0


class _SlowDown:
    """A callback changing a setting a recorded step holds (momentum's beta) after the second epoch."""

    def on_epoch_end(self, run, record):
        if record["epoch"] == 2:
            run.optimizer.set(beta=0.3)


def test_a_callback_changing_the_optimizer_mid_fit_gets_its_steps_recorded_again(stand_in_gpu):
    def fits():
        return [{"loss": "softmax_cross_entropy", "optimizer": xn.Momentum(0.05), "batch_size": 20, "epochs": 4,
                 "seed": 1, "callbacks": [_SlowDown()]}]

    recorded, eager = train_both_ways(network, fits)
    assert_same(recorded, eager)
    assert len(stand_in_gpu) == 2  # recorded for beta=0.9, then again for beta=0.3
