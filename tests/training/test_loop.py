"""Training: mini-batches, reproducibility, agreement across backends, continuing, digits accuracy."""
import numpy as np
import pytest

import xpnet as xn

import support


def small_problem(m=120, n=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    y = (X[:, :k].argmax(axis=1) + (X[:, -1] > 1.5)) % k
    return X, y


def three_layer(where, dtype="float64", seed=0):
    return xn.Sequential([xn.Dense(10), xn.ReLU(), xn.Dense(8), xn.Tanh(), xn.Dense(3)],
                         input_dim=6, dtype=dtype, seed=seed, **where)


def test_initial_weights_identical_on_every_backend(where):
    reference = three_layer({"backend": "numpy", "device": "cpu"}, dtype="float32")
    model = three_layer(where, dtype="float32")
    for name, value in reference.get_weights().items():
        np.testing.assert_array_equal(model.get_weights()[name], value)


def test_sgd_training_numpy_and_torch_agree():
    X, y = small_problem()
    final = {}
    for backend in ("numpy", "torch"):
        model = three_layer({"backend": backend, "device": "cpu"})
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.SGD(lr=0.1), batch_size=16,
                  epochs=5, seed=0, shuffle=False)
        final[backend] = model.get_weights()
    for name, value in final["numpy"].items():
        np.testing.assert_allclose(final["torch"][name], value, rtol=1e-9, atol=1e-12)


def test_same_run_twice_is_bit_identical(cpu_where):
    X, y = small_problem()
    results = []
    for _ in range(2):
        model = xn.Sequential([xn.Dense(10), xn.ReLU(), xn.Dropout(0.2), xn.Dense(3)], input_dim=6,
                              seed=4, **cpu_where)
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), batch_size=32,
                  epochs=3, seed=7)
        results.append(model.get_weights())
    for name in results[0]:
        np.testing.assert_array_equal(results[0][name], results[1][name])


@pytest.mark.parametrize("batch_size, iterations", [(None, 1), (1, 120), (32, 4), (50, 3)])
def test_batch_sizes_give_the_expected_iterations(batch_size, iterations):
    X, y = small_problem()
    model = three_layer({"backend": "numpy", "device": "cpu"})
    history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.SGD(0.05),
                        batch_size=batch_size, epochs=2)
    assert len(history.iteration_cost) == 2 * iterations
    assert history.epochs == 2 and all(np.isfinite(history["loss"]))


def test_shuffle_false_keeps_order_and_reshuffles_otherwise():
    X, y = small_problem()
    costs = {}
    for shuffle in (False, True):
        model = three_layer({"backend": "numpy", "device": "cpu"})
        history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.SGD(0.0001),
                            batch_size=40, epochs=2, shuffle=shuffle, seed=1)
        costs[shuffle] = np.array(history.iteration_cost).reshape(2, 3)
    # With a tiny step the per-batch costs repeat epoch after epoch only when the order is kept.
    np.testing.assert_allclose(costs[False][0], costs[False][1], rtol=1e-3)
    assert not np.allclose(costs[True][0], costs[True][1], rtol=1e-3)


def test_second_fit_continues_where_the_first_stopped():
    X, y = small_problem()
    once = three_layer({"backend": "numpy", "device": "cpu"})
    once.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), batch_size=30, epochs=4,
             seed=3)
    twice = three_layer({"backend": "numpy", "device": "cpu"})
    twice.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), batch_size=30, epochs=2,
              seed=3)
    twice.fit(X, y, batch_size=30, epochs=2)
    assert twice.epoch == 4 and twice.history.epochs == 4 and twice.optimizer.t == 16
    for name, value in once.get_weights().items():
        np.testing.assert_allclose(twice.get_weights()[name], value, rtol=1e-12)


def test_history_records_training_and_validation():
    X, y = small_problem()
    model = three_layer({"backend": "numpy", "device": "cpu"})
    history = model.fit(X[:100], y[:100], loss="softmax_cross_entropy", optimizer=xn.Adam(0.01),
                        epochs=3, validation_data=(X[100:], y[100:]))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "l2_penalty"):
        assert len(history[key]) == 3, key
    assert history["val_accuracy"][-1] == model.evaluate(X[100:], y[100:])["accuracy"]
    assert history["lr"] == [0.01] * 3
    assert len(history.smoothed_cost()) == len(history.iteration_cost) == 12


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = small_problem()
    three_layer({"backend": "numpy", "device": "cpu"}).fit(
        X, y, loss="softmax_cross_entropy", epochs=3, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("epoch    3") and "accuracy" in lines[-1]


def test_predict_returns_probabilities():
    X, y = small_problem()
    model = three_layer({"backend": "numpy", "device": "cpu"})
    model.fit(X, y, loss="softmax_cross_entropy", epochs=1)
    probabilities = model.predict(X)
    assert probabilities.shape == (120, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict_classes(X), probabilities.argmax(axis=1))


def test_divergence_raises_and_keeps_last_finite_parameters():
    X, _ = small_problem()
    targets = np.random.default_rng(0).standard_normal((120, 3))
    model = xn.Sequential([xn.Dense(10), xn.ReLU(), xn.Dense(3)], input_dim=6, dtype="float64")
    model.fit(X, targets, loss="mse", optimizer=xn.SGD(0.01), epochs=1, batch_size=20)
    before = model.get_weights()
    with pytest.raises(xn.DivergenceError, match=r"epoch 2, iteration \d+ of 6.*smaller learning rate"), \
            np.errstate(all="ignore"):
        model.fit(X * 1e3, targets, optimizer=xn.SGD(10.0), epochs=3, batch_size=20)
    after = model.get_weights()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value)
    assert model.epoch == 1 and model.history.epochs == 1


def test_digits_reaches_95_percent(cpu_where):
    X_train, y_train, X_test, y_test = xn.datasets.digits()
    model = xn.Sequential([xn.Dense(64), xn.ReLU(), xn.Dense(10)], input_dim=64, seed=0, **cpu_where)
    model.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.Adam(0.003),
              batch_size=64, epochs=15, seed=0)
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.95


def test_model_to_another_backend_keeps_predictions():
    X, y = small_problem()
    model = three_layer({"backend": "numpy", "device": "cpu"})
    model.fit(X, y, loss="softmax_cross_entropy", epochs=2)
    before = model.predict(X)
    model.to("device1", backend="array_api_strict")
    assert model.backend.name == "array_api_strict"
    np.testing.assert_allclose(model.predict(X), before, rtol=1e-12)
    model.fit(X, y, epochs=1)  # and keeps training there, optimizer state included
    assert model.optimizer.t == 2 * 4 + 4
    assert support.host(model.params["0.W"]).shape == (6, 10)


def test_summary_and_binary_class_predictions():
    X, y = small_problem()
    model = xn.Sequential([xn.Dense(5), xn.ReLU(), xn.Dense(1)], input_dim=6)
    model.fit(X, (y > 0).astype(float), loss="binary_cross_entropy", epochs=1)
    text = model.summary()
    assert "W(6, 5)" in text and f"total parameters: {6 * 5 + 5 + 5 + 1}" in text
    classes = model.predict_classes(X)
    assert classes.shape == (120,) and set(np.unique(classes)) <= {0, 1}
    np.testing.assert_array_equal(classes, (model.predict(X)[:, 0] > 0.5).astype(int))


def test_fit_does_not_copy_the_data_set():
    """float32 data is used where it lies: fit's extra memory stays well below the data's own size."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 50)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    model = xn.Sequential([xn.Dense(4), xn.ReLU(), xn.Dense(1)], input_dim=50, dtype="float32")
    model.fit(X[:100], y[:100], loss="binary_cross_entropy", optimizer=xn.SGD(0.1), batch_size=10)  # warm-up
    tracemalloc.start()
    model.fit(X, y, batch_size=1000, epochs=2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.4 * X.nbytes


STEP_SCHEDULE = xn.schedules.CosineWithWarmup(0.1, 20, 3, unit="step")


@pytest.mark.parametrize("make_optimizer", [lambda: xn.Adam(0.01), lambda: xn.Momentum(STEP_SCHEDULE)],
                         ids=["adam", "momentum-step-schedule"])
def test_an_epoch_equals_a_loop_of_single_steps(cpu_where, make_optimizer):
    """fit's recorded-ready step (mini-batch, learning rate and bias corrections read on the device at the
    step counter) against plain train_step calls on the same mini-batches in the same order."""
    from xpnet.nn.losses import get_loss
    from xpnet.rng import make_random_source
    from xpnet.training.regularization import L2
    from xpnet.training.step import train_step

    X, y = small_problem(m=70)
    Y = np.eye(3)[y]
    fitted, stepped = three_layer(cpu_where, seed=3), three_layer(cpu_where, seed=3)
    fitted.fit(X, y, loss="softmax_cross_entropy", optimizer=make_optimizer(), batch_size=16, epochs=3, l2=0.05,
               seed=9)
    backend, loss, optimizer = stepped.backend, get_loss("softmax_cross_entropy"), make_optimizer()
    optimizer.init(stepped.param_buffer)
    l2, shuffle = L2(0.05, backend, ()), make_random_source(backend, 9)
    X_device, Y_device = backend.asarray(X), backend.asarray(Y)
    for epoch in range(3):
        stepped.epoch = epoch
        order = support.host(shuffle.permutation(70))
        for start in range(0, 70, 16):
            rows = backend.asarray(order[start:start + 16], dtype=backend.xp.int64)
            train_step(stepped, backend.xp.take(X_device, rows, axis=0), backend.xp.take(Y_device, rows, axis=0),
                       loss, optimizer, l2)
    for name, value in stepped.get_weights().items():
        np.testing.assert_allclose(fitted.get_weights()[name], value, rtol=1e-12, atol=1e-14, err_msg=name)
    assert fitted.optimizer.t == optimizer.t == 15


def test_features_already_on_the_device_are_used_in_place(cpu_where):
    X, y = small_problem()
    model = three_layer(cpu_where)
    on_device = model.backend.asarray(X)
    model.fit(on_device, y, loss="softmax_cross_entropy", epochs=1, seed=0)
    reference = three_layer(cpu_where)
    reference.fit(X, y, loss="softmax_cross_entropy", epochs=1, seed=0)
    for name, value in reference.get_weights().items():
        np.testing.assert_array_equal(model.get_weights()[name], value)
    bad = np.array(X)
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        model.fit(model.backend.asarray(bad), y, epochs=1)
    with pytest.raises(ValueError, match="X has 5 features per example, but the model expects input_dim=6"):
        model.fit(model.backend.asarray(X[:, :5]), y, epochs=1)
