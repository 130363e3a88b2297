"""One epoch of training end to end: xpnet's ``fit`` (shuffled mini-batches, Adam, the data already on
the device, the step recorded as a CUDA graph on a GPU) against the same loop in PyTorch eager and in
JAX (a jitted step per mini-batch), on 60,000 x 784 synthetic examples (6,000 in the quick profile)."""
import pytest

from benchmarks import peers, workloads


def run(benchmark, make, device, fit_batch, rows, **info):
    epoch, extra = make()
    benchmark.group = f"{device} fit epoch batch={fit_batch}"
    benchmark.extra_info.update({"device": device, "fit_batch": fit_batch, "rows": rows, **info, **extra})
    benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)


def test_xpnet_fit(benchmark, device, fit_batch, profile, tf32):
    rows = profile["fit_rows"]
    run(benchmark, lambda: workloads.make_xpnet_fit(device, fit_batch, rows), device, fit_batch, rows,
        peer="xpnet", tf32=tf32)


def test_torch_fit(benchmark, device, fit_batch, profile, tf32):
    pytest.importorskip("torch")
    rows = profile["fit_rows"]
    run(benchmark, lambda: peers.make_torch_fit(device, fit_batch, rows), device, fit_batch, rows, peer="torch",
        tf32=tf32)


def test_jax_fit(benchmark, device, fit_batch, profile, tf32):
    rows = profile["fit_rows"]
    run(benchmark, lambda: peers.make_jax_fit(device, fit_batch, rows, tf32), device, fit_batch, rows, peer="jax",
        tf32=tf32)
