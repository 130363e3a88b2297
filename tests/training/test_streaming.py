"""Data that need not fit in memory: streams of chunks (lists, functions, torch DataLoaders) with one
pass per epoch, memory-mapped arrays read a chunk at a time (bounded memory), and the double-buffered
CUDA copy path, checked on the CPU against a stand-in CUDA module."""
import types

import numpy as np
import pytest

import xpnet as xn
from xpnet import sources, transfer
from xpnet.training import inputs


def problem(m=203, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)


def network(dtype="float64", **options):
    return xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dropout(0.1), xn.Dense(3)], input_dim=5, dtype=dtype, seed=3,
                         **options)


def trained(data, y=None, dtype="float64", **options):
    model = network(dtype)
    settings = {"loss": "softmax_cross_entropy", "optimizer": xn.Adam(xn.schedules.ExponentialDecay(0.01, 0.5)),
                "epochs": 3, "batch_size": 16, **options}
    history = model.fit(data, y, **settings)
    return model, history


def assert_same_training(a, b):
    """Bit-identical weights and History; the validation loss, summed chunk by chunk, up to rounding."""
    for name, value in a[0].get_weights().items():
        np.testing.assert_array_equal(b[0].get_weights()[name], value, err_msg=name)
    histories = [dict(history.history) for history in (a[1], b[1])]
    validation = [history.pop("val_loss") for history in histories]
    np.testing.assert_allclose(np.array(validation[1], dtype=float), np.array(validation[0], dtype=float),
                               rtol=1e-6)
    assert histories[0] == histories[1]
    assert a[1].iteration_cost == b[1].iteration_cost
    assert a[0].epoch == b[0].epoch and a[0].optimizer.t == b[0].optimizer.t


def chunked(X, y, sizes, *extra):
    bounds = np.cumsum([0] + list(sizes))
    assert bounds[-1] == len(X)
    return [(X[a:b], y[a:b]) + tuple(e[a:b] for e in extra) for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.mark.parametrize("sizes", [[203], [16] * 12 + [11], [50, 3, 100, 7, 43], [1] * 203, [5, 30] * 5 + [28]])
def test_an_epoch_over_chunks_equals_an_epoch_over_the_whole_array(sizes):
    X, y = problem()
    whole = trained(X, y, shuffle=False)
    streamed = trained(chunked(X, y, sizes))
    assert_same_training(whole, streamed)
    assert whole[1]["lr"] == [0.01, 0.005, 0.0025]  # the schedule counts passes as epochs
    assert len(streamed[1].iteration_cost) == 3 * 13


def test_a_dataloader_streams_one_pass_per_epoch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X, y = problem()
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=7, shuffle=False)
    whole = trained(X, y, shuffle=False)
    assert_same_training(whole, trained(loader))
    assert_same_training(trained(X, y, shuffle=False, batch_size=7), trained(loader, batch_size=None))


def test_chunks_with_sample_weights_and_a_validation_stream():
    X, y = problem()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    whole = trained(X[:150], y[:150], shuffle=False, sample_weight=w[:150], validation_data=(X[150:], y[150:]))
    streamed = trained(chunked(X[:150], y[:150], [40, 40, 70], w[:150]),
                       validation_data=chunked(X[150:], y[150:], [20, 33]))
    assert_same_training(whole, streamed)


def test_a_function_returning_an_iterator_gives_a_fresh_pass_each_epoch():
    X, y = problem()
    passes = []

    def read():
        passes.append(1)
        for start in range(0, len(X), 60):
            yield X[start:start + 60], y[start:start + 60]

    assert_same_training(trained(X, y, shuffle=False), trained(read))
    assert len(passes) == 3


def test_a_generator_allows_one_epoch_only():
    X, y = problem()
    generator = (chunk for chunk in chunked(X, y, [100, 103]))
    with pytest.raises(ValueError, match="X is an iterator, which can be passed over only once, but epochs=3"):
        trained(generator)
    model, history = trained((chunk for chunk in chunked(X, y, [100, 103])), epochs=1)
    assert history.epochs == 1


@pytest.mark.parametrize("options, message", [
    ({"shuffle": True}, r"shuffle=True cannot be used with a stream of chunks: shuffle in the stream"),
    ({"sample_weight": np.ones(203)}, r"sample_weight cannot be used with a stream .* \(X, y, sample_weight\)"),
    ({"validation_split": 0.2}, r"validation_split cannot be used with a stream"),
    ({"class_weight": "balanced"}, r"class_weight='balanced' cannot be used with a stream"),
])
def test_what_a_stream_cannot_do(options, message):
    X, y = problem()
    with pytest.raises(ValueError, match=message):
        trained(chunked(X, y, [203]), **options)


def test_a_bad_chunk_rolls_the_epoch_back_and_names_the_chunk():
    X, y = problem()
    model, _ = trained(chunked(X, y, [203]), epochs=1)
    before = model.get_weights()
    bad = chunked(X, y, [100, 103])
    bad[1] = (bad[1][0][:, :4], bad[1][1])
    with pytest.raises(ValueError, match=r"X chunk 1: X has 4 features per example, but the model expects input_dim=5"):
        model.fit(bad, epochs=1)
    with pytest.raises(TypeError, match=r"X must give chunks \(X, y\) or \(X, y, sample_weight\); chunk 0 is ndarray"):
        model.fit([X], epochs=1)
    with pytest.raises(ValueError, match="X gave no examples in a whole pass"):
        model.fit([], epochs=1)
    for name, value in before.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)
    assert model.epoch == 1 and model.history.epochs == 1


def test_rebatched_cuts_and_joins_chunks_in_order():
    import array_api_compat.numpy as xp

    rows = np.arange(50.0)[:, None]
    chunks = [(rows[a:b], None) for a, b in [(0, 3), (3, 4), (4, 30), (30, 31), (31, 50)]]
    batches = list(sources.rebatched(iter(chunks), 7, xp))
    assert [len(batch[0]) for batch in batches] == [7] * 7 + [1]
    np.testing.assert_array_equal(np.concatenate([batch[0] for batch in batches]), rows)
    assert all(batch[1] is None for batch in batches)


# Memory-mapped and other out-of-memory arrays -------------------------------------------------------

def memmap(tmp_path, X, dtype="float64"):
    path = tmp_path / "X.npy"
    np.save(path, X.astype(dtype))
    return np.load(path, mmap_mode="r")


class SortedReads:
    """An array-like that reads rows only in increasing order, as h5py datasets do."""

    def __init__(self, array):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype

    def __getitem__(self, rows):
        if not isinstance(rows, slice):
            assert np.all(np.diff(rows) > 0), "rows must be read in increasing order"
        return self.array[rows]


@pytest.mark.parametrize("make", [memmap, lambda tmp_path, X: SortedReads(X.astype(np.float16).astype(np.float64))])
def test_an_out_of_memory_array_trains_exactly_like_the_array_in_memory(tmp_path, monkeypatch, make):
    monkeypatch.setattr(sources, "CHUNK_BYTES", 5 * 4 * 40)  # 40 rows of float32: several chunks per epoch
    X, y = problem()
    X_disk = make(tmp_path, X)
    X_memory = np.asarray(X_disk[:])
    options = {"dtype": "float32", "seed": 5, "validation_split": 0.25, "class_weight": "balanced"}
    assert_same_training(trained(X_memory, y, **options), trained(X_disk, y, **options))
    model = trained(X_memory, y, **options)[0]
    np.testing.assert_array_equal(model.predict(X_disk), model.predict(X_memory))
    assert model.evaluate(X_disk, y) == pytest.approx(model.evaluate(X_memory, y), rel=1e-6)


def test_a_float16_memmap_is_converted_chunk_by_chunk(tmp_path):
    X, y = problem()
    X_disk = memmap(tmp_path, X, "float16")
    model = network("float32")
    model.fit(X_disk, y, loss="softmax_cross_entropy", epochs=1)
    assert model.predict(X_disk).dtype == np.float32


def test_memory_stays_bounded_for_a_memmap_of_hundreds_of_megabytes(tmp_path):
    """fit, predict and evaluate on a 256 MB float64 memmap (a float32 model) hold a few chunks, not the
    data: the bound is about 2 * CHUNK_BYTES of float32 rows, one chunk as read (float64), and 8 bytes
    per row for the labels, the epoch's order and the predictions."""
    import tracemalloc

    m, n = 250_000, 128
    path = tmp_path / "big.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(m, n))
    rng = np.random.default_rng(0)
    for start in range(0, m, 25_000):
        X[start:start + 25_000] = rng.standard_normal((25_000, n))
    y = (np.asarray(X[:, 0]) > 0).astype(np.int64)
    X.flush()
    del X
    X = np.load(path, mmap_mode="r")
    assert X.nbytes == 256_000_000
    model = xn.Sequential([xn.Dense(2), xn.ReLU(), xn.Dense(1)], input_dim=n, dtype="float32", seed=0)
    model.fit(X[:5000], y[:5000], loss="binary_cross_entropy", batch_size=4096)  # compiles the kernels first
    model.evaluate(X[:5000], y[:5000])
    bound = 2 * sources.CHUNK_BYTES + 2 * sources.CHUNK_BYTES + 3 * 8 * m + 4_000_000  # float32 chunks; one read
    for step in ("fit", "predict", "evaluate"):
        tracemalloc.start()
        if step == "fit":
            model.fit(X, y, batch_size=4096, epochs=1, seed=0)
        elif step == "predict":
            assert model.predict(X).shape == (m, 1)
        else:
            assert 0 <= model.evaluate(X, y)["accuracy"] <= 1
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{step}: {peak / 1e6:.1f} MB traced at most, bound {bound / 1e6:.1f} MB, data {X.nbytes / 1e6:.0f} MB")
        assert peak < bound, f"{step}: {peak / 1e6:.1f} MB traced, bound {bound / 1e6:.1f} MB"


# The CUDA copy path on a stand-in ----------------------------------------------------------------------

class StandInCuda:
    """Enough of ``cupy`` for :class:`~xpnet.transfer.CudaCopies`, with copies that are asynchronous for
    real: a copy queued on the copy stream runs only when an event recorded after it is synchronized
    or waited on by the compute stream. A missing wait then shows as stale data. Every call is logged."""

    def __init__(self):
        self.log, self.copiers = [], []
        self.compute = self.Stream(self, "compute")
        cuda = types.SimpleNamespace(Stream=lambda non_blocking: self.Stream(self, "copy"), Event=self.Event,
                                     alloc_pinned_memory=bytearray, get_current_stream=lambda: self.compute)
        self.cuda = cuda

    def empty(self, size, dtype):
        return np.full(size, np.nan, dtype=dtype).view(StandInDeviceArray)

    def Event(self, disable_timing=True):  # noqa: N802 (cupy's name)
        return StandInEvent(self)

    class Stream:
        def __init__(self, cuda, name):
            self.cuda, self.name, self.queue = cuda, name, []

        def wait_event(self, event):
            self.cuda.log.append(("wait", self.name, event, event.version))
            if self.name == "compute":
                event.run_copies()

        def run(self, upto):
            for copy in self.queue[:upto]:
                copy()
            self.queue[:upto] = [lambda: None] * upto


class StandInEvent:
    def __init__(self, cuda):
        self.cuda, self.version, self.stream, self.mark = cuda, 0, None, 0

    def record(self, stream):
        self.version += 1
        self.stream, self.mark = stream, len(stream.queue)
        self.cuda.log.append(("record", stream.name, self, self.version))

    def run_copies(self):
        if self.stream is not None:
            self.stream.run(self.mark)

    def synchronize(self):
        self.run_copies()


class StandInDeviceArray(np.ndarray):
    """A device buffer: a NumPy array (the model's backend takes it as one) with CuPy's ``set``."""

    def set(self, host, stream):
        buffer = self
        while buffer.base is not None and isinstance(buffer.base, StandInDeviceArray):
            buffer = buffer.base
        stream.cuda.log.append(("set", stream.name, buffer))
        target = self
        stream.queue.append(lambda: np.copyto(target, host))  # reads the pinned memory when it runs


StandInDeviceArray.__module__ = "numpy"  # what xpnet.backend.namespace_name looks at


def with_stand_in(monkeypatch, copies_class=transfer.CudaCopies):
    cuda = StandInCuda()

    def copies_for(backend):
        cuda.copiers.append(copies_class(backend, cuda=cuda))
        return cuda.copiers[-1]

    monkeypatch.setattr(inputs, "copies_for", copies_for)
    return cuda


def test_cuda_copies_train_exactly_like_plain_copies(monkeypatch, tmp_path):
    X, y = problem()
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    plain = trained(chunked(X, y, [40, 40, 60, 63], w))
    monkeypatch.setattr(sources, "CHUNK_BYTES", 5 * 8 * 48)
    X_disk = memmap(tmp_path, X)
    plain_disk = trained(X_disk, y, seed=1)
    cuda = with_stand_in(monkeypatch)
    assert_same_training(plain, trained(chunked(X, y, [40, 40, 60, 63], w)))
    assert_same_training(plain_disk, trained(X_disk, y, seed=1))
    np.testing.assert_array_equal(plain_disk[0].predict(X_disk), plain_disk[0].predict(X))
    assert any(entry[0] == "set" for entry in cuda.log)


def test_cuda_copies_wait_for_the_compute_stream_before_refilling_a_buffer(monkeypatch):
    """Every copy into a slot's device buffer comes after the copy stream waited for the latest release
    of the chunk held there (the event the compute stream records once its work on that chunk is
    queued). (The compute stream's wait for each copy, and the refilling of pinned memory only after
    its copy ran, show in the data: the stand-in runs copies late.)"""
    X, y = problem()
    cuda = with_stand_in(monkeypatch)
    trained(chunked(X, y, [30] * 6 + [23]), epochs=2)
    copiers = cuda.copiers
    slots = {id(buffer): slot
             for copier in copiers for slot in copier.slots for buffer in slot.device if buffer is not None}
    latest, awaited, sets = {}, {}, 0
    for kind, stream, subject, *version in cuda.log:
        if kind == "record" and stream == "compute":
            latest[id(subject)] = version[0]
        elif kind == "wait" and stream == "copy":
            awaited[id(subject)] = version[0]
        elif kind == "set":
            free = id(slots[id(subject)].free)
            assert awaited.get(free, 0) == latest.get(free, 0), "a buffer was refilled before its release was awaited"
            sets += 1
    assert len(copiers) == 1 and sets == 2 * 7 * 2  # 2 epochs of 7 chunks of X and Y


class CopiesThatDoNotWait(transfer.CudaCopies):
    def finish(self, ticket):
        return ticket.arrays


def test_the_stand_in_catches_a_missing_wait(monkeypatch):
    X, y = problem()
    plain = trained(chunked(X, y, [100, 103]), epochs=1)
    with_stand_in(monkeypatch, CopiesThatDoNotWait)
    with pytest.raises(xn.DivergenceError):  # the device buffers still hold their first (NaN) values
        trained(chunked(X, y, [100, 103]), epochs=1)
    assert plain[0].epoch == 1


def test_a_population_streams_like_it_trains_on_the_array():
    X, y = problem()
    runs = []
    for data in (X, chunked(X, y, [64, 100, 39])):
        population = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(3)], input_dim=5, dtype="float64",
                                   seed=[0, 1, 2], population=3)
        history = population.fit(data, y if data is X else None, loss="softmax_cross_entropy",
                                 optimizer=xn.Adam([0.001, 0.01, 0.1]), epochs=2, batch_size=32, shuffle=None if
                                 data is not X else False)
        runs.append((population, history))
    assert_same_training(*runs)


def test_every_source_trains_alike_on_every_cpu_backend(tmp_path, monkeypatch, cpu_where):
    """Streams, memmaps, weights and a validation split on NumPy, torch and array-api-strict (also on
    its second device, where an array made on the wrong device fails)."""
    monkeypatch.setattr(sources, "CHUNK_BYTES", 5 * 8 * 40)
    X, y = problem()
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    X_disk = memmap(tmp_path, X)
    results = {}
    for name, where in (("numpy", {"backend": "numpy", "device": "cpu"}), ("here", cpu_where)):
        model = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(3)], input_dim=5, dtype="float64", **where)
        model.fit(X_disk, y, loss="softmax_cross_entropy", epochs=2, batch_size=16, shuffle=False,  # random
                  sample_weight=w, validation_split=0.2, class_weight="balanced")  # streams differ by backend
        model.fit(chunked(X, y, [70, 70, 63], w), epochs=1, batch_size=16, validation_data=chunked(X, y, [203]))
        results[name] = (model.get_weights(), model.history["val_loss"], model.predict(X_disk),
                         model.evaluate(X_disk, y, sample_weight=w)["loss"])
    for name, value in results["numpy"][0].items():
        np.testing.assert_allclose(results["here"][0][name], value, rtol=1e-9, atol=1e-12, err_msg=name)
    for got, expected in zip(results["here"][1:], results["numpy"][1:]):
        np.testing.assert_allclose(got, expected, rtol=1e-9)
