"""Training-step throughput: xpnet (on a GPU, its recorded step replayed as fit runs it, and the eager
step) against PyTorch eager (default and fused optimizers), PyTorch replaying a CUDA graph, JAX's jitted
step and scikit-learn's MLPClassifier: same data, batch, widths, precision and thread count, grouped by
(device, batch size, optimizer) so each pytest-benchmark table compares like with like."""
import numpy as np
import pytest

from benchmarks import peers, workloads


def run(benchmark, make, rounds, **info):
    step, extra = make()
    benchmark.extra_info.update(info)
    benchmark.extra_info.update(extra)
    benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=2)


def group(benchmark, device, batch, optimizer):
    benchmark.group = f"{device} batch={batch:>4} {optimizer}"
    return {"device": device, "batch": batch, "optimizer": optimizer,
            "flops": workloads.flops_per_step(batch)}


def test_xpnet(benchmark, device, batch, optimizer, rounds, tf32):
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: workloads.make_xpnet(device, optimizer, batch), rounds, peer="xpnet", tf32=tf32, **info)


def test_xpnet_eager(benchmark, device, batch, optimizer, rounds, tf32):
    if device == "cpu":
        pytest.skip("on the CPU every step is eager: see test_xpnet")
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: workloads.make_xpnet(device, optimizer, batch, graphs=False), rounds,
        peer="xpnet-eager", tf32=tf32, **info)


def test_torch(benchmark, device, batch, optimizer, rounds, tf32):
    pytest.importorskip("torch")
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: peers.make_torch(device, optimizer, batch), rounds, peer="torch", tf32=tf32, **info)


def test_torch_fused(benchmark, device, batch, optimizer, rounds, tf32):
    pytest.importorskip("torch")
    if optimizer == "rmsprop":
        pytest.skip("torch.optim.RMSprop has no fused implementation")
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: peers.make_torch(device, optimizer, batch, fused=True), rounds,
        peer="torch-fused", tf32=tf32, **info)


def test_torch_graph(benchmark, device, batch, optimizer, rounds, tf32):
    pytest.importorskip("torch")
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: peers.make_torch_graph(device, optimizer, batch), rounds, peer="torch-graph",
        tf32=tf32, **info)


def test_jax(benchmark, device, batch, optimizer, rounds, tf32):
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: peers.make_jax(device, optimizer, batch, tf32), rounds, peer="jax", tf32=tf32, **info)


def test_sklearn(benchmark, device, batch, optimizer, rounds):
    pytest.importorskip("sklearn")
    if device != "cpu" or optimizer == "rmsprop":
        pytest.skip("MLPClassifier runs on the CPU and has no RMSprop")
    info = group(benchmark, device, batch, optimizer)
    run(benchmark, lambda: peers.make_sklearn(optimizer, batch), 3, peer="sklearn", **info)


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
