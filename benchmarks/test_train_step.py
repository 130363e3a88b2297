"""Training-step throughput: xpnet (on a GPU, its recorded step replayed as fit runs it, and the eager
step) against PyTorch eager (default and fused optimizers), PyTorch replaying a CUDA graph, JAX's jitted
step and scikit-learn's MLPClassifier: same data, batch, widths, precision and thread count, grouped by
(device, batch size, optimizer) so each pytest-benchmark table compares like with like."""
import numpy as np
import pytest

from benchmarks import peers, workloads


def _eager_xpnet(device, optimizer, batch, tf32):
    if device == "cpu":
        pytest.skip("on the CPU every step is eager: see the xpnet cell")
    return workloads.make_xpnet(device, optimizer, batch, graphs=False)


def _fused_torch(device, optimizer, batch, tf32):
    if optimizer == "rmsprop":
        pytest.skip("torch.optim.RMSprop has no fused implementation")
    return peers.make_torch(device, optimizer, batch, fused=True)


def _sklearn(device, optimizer, batch, tf32):
    pytest.importorskip("sklearn")
    if device != "cpu" or optimizer == "rmsprop":
        pytest.skip("MLPClassifier runs on the CPU and has no RMSprop")
    return peers.make_sklearn(optimizer, batch)


#: peer -> (the package it needs, make(device, optimizer, batch, tf32) -> (step, info))
MAKERS = {
    "xpnet": (None, lambda device, optimizer, batch, tf32: workloads.make_xpnet(device, optimizer, batch)),
    "xpnet-eager": (None, _eager_xpnet),
    "torch": ("torch", lambda device, optimizer, batch, tf32: peers.make_torch(device, optimizer, batch)),
    "torch-fused": ("torch", _fused_torch),
    "torch-graph": ("torch", lambda device, optimizer, batch, tf32: peers.make_torch_graph(device, optimizer, batch)),
    "jax": (None, peers.make_jax),
    "sklearn": (None, _sklearn),
}


@pytest.mark.parametrize("peer", list(MAKERS))
def test_training_step(benchmark, peer, device, batch, optimizer, rounds, tf32):
    package, make = MAKERS[peer]
    if package is not None:
        pytest.importorskip(package)
    step, info = make(device, optimizer, batch, tf32)
    benchmark.group = f"{device} batch={batch:>4} {optimizer}"
    benchmark.extra_info.update({"device": device, "batch": batch, "optimizer": optimizer, "peer": peer,
                                 "tf32": tf32, "flops": workloads.flops_per_step(batch), **info})
    benchmark.pedantic(step, rounds=3 if peer == "sklearn" else rounds, iterations=1, warmup_rounds=2)


def test_matmul_peak(benchmark, device, rounds, tf32):
    """The machine's float32 matrix-multiply rate (4096^3), the denominator for "fraction of peak"."""
    n = 4096
    if device == "cpu":
        a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
        b, out = a.copy(), np.empty_like(a)

        def product():
            np.matmul(a, b, out=out)
    else:
        import cupy

        a = cupy.random.default_rng(0).standard_normal((n, n), dtype=cupy.float32)
        b, out = a.copy(), cupy.empty_like(a)

        def product():
            cupy.matmul(a, b, out=out)
            cupy.cuda.get_current_stream().synchronize()

    benchmark.group = f"{device} matmul peak"
    benchmark.extra_info.update({"device": device, "peer": "peak", "flops": 2 * n ** 3, "tf32": tf32})
    benchmark.pedantic(product, rounds=max(3, rounds // 3), iterations=1, warmup_rounds=1)
