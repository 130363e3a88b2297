"""One training step of a population: P models of 40-100-100-10 with Adam, one learning rate each,
on one mini-batch of 100, as one xpnet population (its recorded step on a GPU) against JAX's
``jit(vmap(step))``; P = 1, 64 on the CPU and 1, 64, 1024, 4096 on a GPU in the full profile."""
import pytest

from benchmarks import peers, workloads

BATCH = 100


def run(benchmark, make, device, population, rounds, **info):
    step, extra = make()
    benchmark.group = f"{device} population P={population}"
    benchmark.extra_info.update({"device": device, "population": population, "batch": BATCH, **info, **extra})
    benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=2)


def sizes(profile, device, population):
    if population not in profile["populations"]["cuda" if device.startswith("cuda") else "cpu"]:
        pytest.skip(f"P={population} is not in this profile for {device}")


def test_xpnet_population(benchmark, device, population, profile, rounds, tf32):
    sizes(profile, device, population)
    run(benchmark, lambda: workloads.make_xpnet(device, "adam", BATCH, workloads.POPULATION_WIDTHS, population),
        device, population, rounds, peer="xpnet", tf32=tf32)


def test_jax_population(benchmark, device, population, profile, rounds, tf32):
    sizes(profile, device, population)
    run(benchmark, lambda: peers.make_jax_population(device, population, BATCH, tf32), device, population, rounds,
        peer="jax", tf32=tf32)
