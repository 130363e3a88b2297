"""Turn pytest-benchmark JSON into markdown tables: samples/s and ratios to peers measured in the same
run, fraction of the matrix-multiply peak, memory; fit epochs; population steps.

    python -m pytest benchmarks --profile full --benchmark-json=results.json
    python -m benchmarks.report results.json

Ratios compare medians measured in the same run; above 1 means xpnet is faster. "vs torch" is PyTorch
eager with default optimizer settings, "vs fused" with ``fused=True``, "vs torch graph" PyTorch replaying
a captured CUDA graph, "vs jax" JAX's jitted step, "vs best" the faster of those two, "vs sklearn"
MLPClassifier. On a GPU "xpnet" is the step as ``fit`` runs it (recorded once, replayed) and
"xpnet eager" the same step one kernel at a time. "% peak" is xpnet's achieved GFLOP/s (6 x batch x sum
of fan_in x fan_out per step) over the float32 matrix-multiply rate measured in the same run.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

STEP_PEERS = ("xpnet-eager", "torch", "torch-fused", "torch-graph", "jax", "sklearn")


def load(path: str) -> list:
    with open(path) as file:
        return json.load(file)["benchmarks"]


def step_seconds(entry: dict) -> float:
    """Median seconds of one training step (an sklearn call may run several)."""
    return entry["stats"]["median"] / entry["extra_info"].get("steps_per_call", 1)


def summarize(benchmarks: list) -> dict:
    """The step grid (device -> rows), matrix-multiply peaks, fit epochs, population steps and
    configurations per hour, each with every peer's time."""
    peaks, cells = {}, defaultdict(dict)
    epochs, population_steps, populations = defaultdict(dict), defaultdict(dict), defaultdict(dict)
    for entry in benchmarks:
        info, median = entry["extra_info"], entry["stats"]["median"]
        if info.get("peer") == "peak":
            peaks[info["device"]] = info["flops"] / median
        elif "setup" in info:
            populations[(info["device"], info["setup"])][info["peer"]] = info["configurations"] * 3600 / median
        elif "fit_batch" in info:
            epochs[(info["device"], info["fit_batch"], info["rows"])][info["peer"]] = median
        elif "population" in info:
            population_steps[(info["device"], info["population"])][info["peer"]] = median
        else:
            cells[(info["device"], info["batch"], info["optimizer"])][info["peer"]] = (step_seconds(entry), info)
    rows = defaultdict(list)
    for (device, batch, optimizer), peers in sorted(cells.items()):
        if "xpnet" not in peers:
            continue
        seconds, info = peers["xpnet"]
        row = {"batch": batch, "optimizer": optimizer, "samples_per_s": batch / seconds,
               "gflops": info["flops"] / seconds / 1e9, "kernels": info.get("kernels"),
               "peak_bytes": info.get("peak_bytes"), "budget_bytes": info.get("budget_bytes")}
        for peer in STEP_PEERS:
            if peer in peers:
                row[peer] = peers[peer][0] / seconds
        fastest = [row[peer] for peer in ("torch-graph", "jax") if peer in row]
        if fastest:
            row["best"] = min(fastest)
        if device in peaks:
            row["fraction_of_peak"] = info["flops"] / seconds / peaks[device]
        rows[device].append(row)
    return {"rows": rows, "peaks": peaks, "epochs": epochs, "population_steps": population_steps,
            "populations": populations}


def _ratio(value):
    return f"{value:.2f}x" if value is not None else "-"


def _memory(row) -> str:
    if not (row.get("peak_bytes") and row.get("budget_bytes")):
        return "-"
    return (f"{row['peak_bytes'] / 2**20:.1f} / {row['budget_bytes'] / 2**20:.1f} MiB "
            f"({row['peak_bytes'] / row['budget_bytes']:.2f})")


def step_tables(summary: dict) -> list:
    lines = []
    for device, rows in summary["rows"].items():
        peak = summary["peaks"].get(device)
        peers = [peer for peer in STEP_PEERS + ("best",) if any(peer in row for row in rows)]
        lines.append(f"### training step, {device}" +
                     (f" (measured float32 matmul peak {peak / 1e9:.0f} GFLOP/s)" if peak else ""))
        lines.append("")
        lines.append("| batch | optimizer | xpnet samples/s | " + " | ".join(f"vs {peer}" for peer in peers)
                     + " | GFLOP/s | % peak | memory / budget |")
        lines.append("|---:|---|---:|" + "---:|" * len(peers) + "---:|---:|---:|")
        for row in rows:
            fraction = f"{100 * row['fraction_of_peak']:.0f}%" if "fraction_of_peak" in row else "-"
            ratios = " | ".join(_ratio(row.get(peer)) for peer in peers)
            lines.append(f"| {row['batch']} | {row['optimizer']} | {row['samples_per_s']:,.0f} | {ratios} "
                         f"| {row['gflops']:.0f} | {fraction} | {_memory(row)} |")
        lines.append("")
    return lines


def epoch_table(summary: dict) -> list:
    if not summary["epochs"]:
        return []
    lines = ["### one epoch of fit (seconds; ratio = peer's time over xpnet's)", "",
             "| device | batch | rows | xpnet | torch eager | jax | vs torch | vs jax |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (device, batch, rows), peers in sorted(summary["epochs"].items()):
        xpnet, torch, jax = peers.get("xpnet"), peers.get("torch"), peers.get("jax")

        def seconds(value):
            return f"{value:.3f}" if value else "-"

        lines.append(f"| {device} | {batch} | {rows:,} | {seconds(xpnet)} | {seconds(torch)} | {seconds(jax)} "
                     f"| {_ratio(torch / xpnet if torch and xpnet else None)} "
                     f"| {_ratio(jax / xpnet if jax and xpnet else None)} |")
    return lines + [""]


def population_step_table(summary: dict) -> list:
    if not summary["population_steps"]:
        return []
    lines = ["### population step: P models of 40-100-100-10, Adam, batch 100 (model-steps/s)", "",
             "| device | P | xpnet | jax jit(vmap) | vs jax |", "|---|---:|---:|---:|---:|"]
    for (device, population), peers in sorted(summary["population_steps"].items()):
        xpnet, jax = peers.get("xpnet"), peers.get("jax")
        rates = [f"{population / seconds:,.0f}" if seconds else "-" for seconds in (xpnet, jax)]
        lines.append(f"| {device} | {population} | {rates[0]} | {rates[1]} "
                     f"| {_ratio(jax / xpnet if jax and xpnet else None)} |")
    return lines + [""]


def configurations_table(summary: dict) -> list:
    if not summary["populations"]:
        return []
    lines = ["### configurations trained per hour: population of 64 vs one after another", "",
             "| device | setup | population | sequential | ratio |", "|---|---|---:|---:|---:|"]
    for (device, setup), modes in sorted(summary["populations"].items()):
        together, apart = modes.get("population"), modes.get("sequential")
        ratio = f"{together / apart:.1f}x" if together and apart else "-"
        lines.append(f"| {device} | {setup} | {together or 0:,.0f} | {apart or 0:,.0f} | {ratio} |")
    return lines + [""]


def markdown(summary: dict) -> str:
    return "\n".join(step_tables(summary) + epoch_table(summary) + population_step_table(summary)
                     + configurations_table(summary))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="a file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    print(markdown(summarize(load(args.json))))


if __name__ == "__main__":
    main()
