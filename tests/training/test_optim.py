"""Update rules against torch.optim (float64, 50 steps) and a transcription of the momentum formula."""
import pickle

import numpy as np
import pytest
import torch

import xpnet as xn
from xpnet.params import FlatBuffer, Layout, ParamSpec, fill

STEPS = 50
LAYOUT = Layout([ParamSpec("W", (4, 3), fill(0), decayed=True), ParamSpec("b", (3,), fill(0))])
rng = np.random.default_rng(0)
START = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
GRADIENTS = [{"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)} for _ in range(STEPS)]


def run_xpnet(optimizer, where=None, steps=STEPS):
    be = xn.resolve_backend(dtype="float64", **(where or {}))
    params = FlatBuffer.from_host(LAYOUT, be, START)
    grads = params.zeros_like()
    optimizer.init(params)
    for gradient in GRADIENTS[:steps]:
        grads.flat[...] = be.asarray(LAYOUT.pack(gradient))
        optimizer.step(params, grads)
    return params.to_host()


def run_torch(make_optimizer, weight_decay=None):
    W, b = (torch.tensor(START[name], requires_grad=True) for name in ("W", "b"))
    groups = [{"params": [W]}, {"params": [b]}]
    if weight_decay is not None:
        groups = [{"params": [W], "weight_decay": weight_decay}, {"params": [b], "weight_decay": 0.0}]
    optimizer = make_optimizer(groups)
    for gradient in GRADIENTS:
        W.grad, b.grad = torch.from_numpy(gradient["W"]), torch.from_numpy(gradient["b"])
        optimizer.step()
    return {"W": W.detach().numpy(), "b": b.detach().numpy()}


CASES = {
    "sgd": (lambda: xn.SGD(lr=0.05), lambda g: torch.optim.SGD(g, lr=0.05), None),
    "rmsprop": (lambda: xn.RMSprop(lr=0.01, beta=0.9, eps=1e-8),
                lambda g: torch.optim.RMSprop(g, lr=0.01, alpha=0.9, eps=1e-8), None),
    "adam": (lambda: xn.Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8),
             lambda g: torch.optim.Adam(g, lr=0.01, betas=(0.8, 0.99), eps=1e-8), None),
    "adamw": (lambda: xn.AdamW(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1),
              lambda g: torch.optim.AdamW(g, lr=0.01, betas=(0.9, 0.999), eps=1e-8), 0.1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_optim(where, name):
    make_ours, make_theirs, weight_decay = CASES[name]
    ours = run_xpnet(make_ours(), where)
    theirs = run_torch(make_theirs, weight_decay)
    for key in ("W", "b"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_its_formula(where, nesterov):
    ours = run_xpnet(xn.Momentum(lr=0.05, beta=0.9, nesterov=nesterov), where)
    W, b = START["W"].copy(), START["b"].copy()
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    for g in GRADIENTS:
        vW = 0.9 * vW + 0.1 * g["W"]
        vb = 0.9 * vb + 0.1 * g["b"]
        W -= 0.05 * ((0.9 * vW + 0.1 * g["W"]) if nesterov else vW)
        b -= 0.05 * ((0.9 * vb + 0.1 * g["b"]) if nesterov else vb)
    np.testing.assert_allclose(ours["W"], W, rtol=1e-12)
    np.testing.assert_allclose(ours["b"], b, rtol=1e-12)


def test_adam_counts_updates_not_epochs():
    optimizer = xn.Adam(0.01)
    run_xpnet(optimizer, steps=7)
    assert optimizer.t == 7


def test_schedule_drives_the_learning_rate():
    schedule = xn.schedules.ExponentialDecay(0.1, 0.5, unit="step")
    ours = run_xpnet(xn.SGD(lr=schedule), steps=3)
    expected = START["W"] - sum(0.1 * 0.5 ** t * GRADIENTS[t]["W"] for t in range(3))
    np.testing.assert_allclose(ours["W"], expected, rtol=1e-12)


@pytest.fixture(scope="module")
def moons():
    from sklearn.datasets import make_moons

    return make_moons(n_samples=300, noise=0.2, random_state=3)  # raw features, as in the classic exercise


def train_moons(moons, optimizer):
    X, y = moons
    model = xn.Sequential([xn.Dense(5), xn.ReLU(), xn.Dense(2), xn.ReLU(), xn.Dense(1)], input_dim=2,
                          dtype="float64", seed=1)
    model.fit(X, y, loss="binary_cross_entropy", optimizer=optimizer, batch_size=64, epochs=1500, seed=1)
    return model.evaluate(X, y)["accuracy"]


def test_adam_beats_mini_batch_gradient_descent_and_momentum_is_no_worse(moons):
    plain = train_moons(moons, xn.SGD(0.0007))
    momentum = train_moons(moons, xn.Momentum(0.0007, beta=0.9))
    adam = train_moons(moons, xn.Adam(0.0007))
    assert adam >= plain + 0.10
    assert momentum >= plain - 1 / 300  # no worse, up to one example of 300


@pytest.mark.parametrize("make", [lambda: xn.SGD(0.1), lambda: xn.Momentum(0.1), lambda: xn.RMSprop(0.01),
                                  lambda: xn.Adam(0.01), lambda: xn.AdamW(0.01, weight_decay=0.01)],
                         ids=["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_every_optimizer_trains_on_every_backend(where, make):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    model = xn.Sequential([xn.Dense(16), xn.Tanh(), xn.Dense(1)], input_dim=3, **where)
    history = model.fit(X, y, loss="binary_cross_entropy", optimizer=make(), batch_size=16, epochs=30)
    assert history["loss"][-1] < 0.7 * history["loss"][0]


@pytest.mark.parametrize("make", [lambda: xn.Momentum(0.05, nesterov=True), lambda: xn.RMSprop(0.01),
                                  lambda: xn.AdamW(xn.schedules.InverseTimeDecay(0.01, 0.5), weight_decay=0.1)],
                         ids=["momentum", "rmsprop", "adamw-schedule"])
def test_saved_optimizer_continues_exactly(tmp_path, make):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((64, 3)), rng.integers(0, 3, 64)

    def fresh():
        return xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(3)], input_dim=3, dtype="float64", seed=5)

    straight = fresh()
    straight.fit(X, y, loss="softmax_cross_entropy", optimizer=make(), batch_size=16, epochs=6, shuffle=False)
    first = fresh()
    first.fit(X, y, loss="softmax_cross_entropy", optimizer=make(), batch_size=16, epochs=3, shuffle=False)
    xn.save(first, tmp_path / "checkpoint.npz")
    resumed = xn.load(tmp_path / "checkpoint.npz")
    assert resumed.optimizer.t == 12 and type(resumed.optimizer) is type(first.optimizer)
    resumed.fit(X, y, batch_size=16, epochs=3, shuffle=False)
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value)
    assert resumed.history["lr"] == straight.history["lr"]


def small_problem():
    rng = np.random.default_rng(2)
    return rng.standard_normal((48, 3)), rng.integers(0, 3, 48)


def small_model(**kwargs):
    return xn.Sequential([xn.Dense(6), xn.ReLU(), xn.Dense(3)], input_dim=3, dtype="float64", **kwargs)


def test_one_optimizer_given_to_a_second_model_is_refused_and_the_first_keeps_its_state():
    X, y = small_problem()
    first, second = small_model(), small_model(seed=1)
    optimizer = xn.Adam(0.01)
    first.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer, epochs=2, batch_size=16)
    moments = optimizer.state_dict()
    with pytest.raises(ValueError, match=r"this Adam already holds the state \(step count, moments\) of another "
                                         r"model; .* optimizer.clone\(\) makes one with the same settings"):
        second.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer, epochs=1)
    assert second.optimizer is None and second.epoch == 0
    assert optimizer.t == 6 and optimizer.bound is first.param_buffer
    for slot in ("v", "s"):
        np.testing.assert_array_equal(optimizer.state_dict()[slot], moments[slot])
    second.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer.clone(), epochs=1, batch_size=16)
    assert second.optimizer.t == 3 and second.optimizer.lr == 0.01 and optimizer.t == 6


def test_an_optimizer_whose_model_is_gone_can_serve_another():
    import gc

    X, y = small_problem()
    optimizer = xn.Momentum(xn.schedules.ExponentialDecay(0.1, 0.9), nesterov=True)
    first = small_model()
    first.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer, epochs=1)
    del first
    gc.collect()
    assert optimizer.bound is None
    small_model().fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer, epochs=1)


def test_a_refused_per_model_list_leaves_the_trained_optimizer_in_place():
    X, y = small_problem()
    model = small_model(population=3, seed=[0, 1, 2])
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam([0.01, 0.02, 0.03]), epochs=2, batch_size=16)
    optimizer, before = model.optimizer, model.get_weights()
    with pytest.raises(ValueError, match=r"lr has 2 values; a population of 3 models needs one each"):
        model.fit(X, y, optimizer=xn.Adam([0.01, 0.02]), epochs=1)
    with pytest.raises(ValueError, match=r"beta1 has 2 values; a population of 3 models needs one each"):
        optimizer.set(beta1=[0.9, 0.8])
    assert model.optimizer is optimizer and optimizer.t == 6 and optimizer.beta1 == 0.9
    for name, value in before.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)
    model.fit(X, y, epochs=1, batch_size=16)
    assert optimizer.t == 9


@pytest.mark.parametrize("make, error, message", [
    (lambda: xn.Momentum(nesterov="no"), TypeError, r"nesterov must be True or False, got 'no'"),
    (lambda: xn.Adam(beta1=float("nan")), ValueError, r"beta1 must be in \[0.0, 1.0\) \(or one per model\), got nan"),
    (lambda: xn.AdamW(weight_decay=float("inf")), ValueError, r"weight_decay must be a finite number >= 0"),
    (lambda: xn.RMSprop(eps=[]), ValueError, r"eps must be a finite number > 0 \(or one per model\), got \[\]"),
    (lambda: xn.SGD(lr=True), ValueError, r"lr must be a positive finite number .* got True"),
    (lambda: xn.SGD(lr="0.1"), ValueError, r"lr must be a positive finite number .* got '0.1'"),
])
def test_optimizer_arguments_are_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_an_optimizer_with_a_function_as_rate_has_a_repr_and_clones():
    optimizer = xn.Momentum(lambda epoch: 0.1, beta=0.8, nesterov=True)
    assert repr(optimizer).startswith("Momentum(lr=<function") and "nesterov=True" in repr(optimizer)
    twin = optimizer.clone()
    assert twin.lr is optimizer.lr and (twin.beta, twin.nesterov) == (0.8, True) and twin.bound is None


def population_with_a_frozen_model(where=None):
    """Two models; the second diverges in its second epoch, is rolled back and frozen."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 3)), rng.integers(0, 2, 64)
    model = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(1)], input_dim=3, population=2, seed=[0, 1],
                          dtype="float64", **(where or {}))
    with np.errstate(all="ignore"):
        model.fit(X, y, loss="mse", optimizer=xn.SGD([0.01, 1e4]), epochs=2, batch_size=16)
    assert model.alive.tolist() == [True, False]
    return model, X, y


def assert_only_the_first_trained(model, before):
    for name, value in model.get_weights().items():
        assert np.all(np.isfinite(value))
        np.testing.assert_array_equal(value[1], before[name][1])
    assert not np.array_equal(model.get_weights()["0.W"][0], before["0.W"][0])


TRAVELS = {"moved": lambda model, path: model.to("cpu"),
           "saved": lambda model, path: (xn.save(model, path), xn.load(path))[1],
           "pickled": lambda model, path: pickle.loads(pickle.dumps(model))}


@pytest.mark.parametrize("travel", sorted(TRAVELS))
def test_frozen_models_stay_frozen_when_the_model_is_moved_saved_or_pickled(tmp_path, travel):
    model, X, y = population_with_a_frozen_model()
    model = TRAVELS[travel](model, tmp_path / "population.npz")
    model.optimizer.set(lr=[0.01, 0.01])  # a rate at which the frozen model would not diverge again
    before = model.get_weights()
    with np.errstate(all="ignore"):  # the frozen model's outputs overflow
        model.fit(X, y, epochs=1, batch_size=16)
    assert model.history["lr"][-1] == [0.01, 0.0]
    assert_only_the_first_trained(model, before)


def test_a_frozen_model_keeps_its_last_finite_weights_while_the_others_train(where):
    """Its rate is 0, but 0 times an inf gradient is NaN: its gradients are ignored instead."""
    model, X, y = population_with_a_frozen_model(where)
    before = model.get_weights()
    with np.errstate(all="ignore"):
        model.fit(X, y, epochs=3, batch_size=16)
    assert_only_the_first_trained(model, before)


@pytest.mark.parametrize("make", [xn.SGD, xn.Adam], ids=["SGD", "Adam"])
def test_a_step_drops_a_frozen_models_gradient_even_when_it_is_infinite(make):
    model = xn.Sequential([xn.Dense(2)], input_dim=3, population=2, dtype="float64")
    optimizer = make(0.1)
    optimizer.init(model.param_buffer)
    optimizer.freeze([False, True])
    before = np.array(xn.to_numpy(model.param_buffer.flat))
    model.grad_buffer.flat[...] = model.backend.asarray(np.array([[1.0] * 8, [np.inf] * 8]))
    optimizer.step(model.param_buffer, model.grad_buffer)
    after = xn.to_numpy(model.param_buffer.flat)
    np.testing.assert_array_equal(after[1], before[1])
    assert np.all(after[0] < before[0])
    for slot in optimizer.state.values():
        assert np.all(np.isfinite(xn.to_numpy(slot.flat)))
