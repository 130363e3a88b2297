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

The percentage in parentheses after a number is the spread of the timing it comes from: the
interquartile range of the rounds over their median (after a ratio, the peer's; xpnet's is next to
its own number). A ratio is no more certain than the spread of either side.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

STEP_PEERS = ("xpnet-eager", "torch", "torch-fused", "torch-graph", "jax", "sklearn")


def load(path: str) -> list:
    with open(path) as file:
        return json.load(file)["benchmarks"]


def spread(entry: dict) -> float:
    """The interquartile range of an entry's rounds over their median."""
    return entry["stats"]["iqr"] / entry["stats"]["median"]


def step_seconds(entry: dict) -> float:
    """Median seconds of one training step (an sklearn call may run several)."""
    return entry["stats"]["median"] / entry["extra_info"].get("steps_per_call", 1)


def summarize(benchmarks: list) -> dict:
    """The step grid (device -> rows), matrix-multiply peaks, fit epochs, population steps and
    configurations per hour, each with every peer's ``(time or rate, spread)``."""
    peaks, cells = {}, defaultdict(dict)
    epochs, population_steps, populations = defaultdict(dict), defaultdict(dict), defaultdict(dict)
    for entry in benchmarks:
        info, median = entry["extra_info"], entry["stats"]["median"]
        if info.get("peer") == "peak":
            peaks[info["device"]] = info["flops"] / median
        elif "setup" in info:
            populations[(info["device"], info["setup"])][info["peer"]] = (
                info["configurations"] * 3600 / median, spread(entry))
        elif "fit_batch" in info:
            epochs[(info["device"], info["fit_batch"], info["rows"])][info["peer"]] = (median, spread(entry))
        elif "population" in info:
            population_steps[(info["device"], info["population"])][info["peer"]] = (median, spread(entry))
        else:
            cells[(info["device"], info["batch"], info["optimizer"])][info["peer"]] = (
                step_seconds(entry), spread(entry), info)
    rows = defaultdict(list)
    for (device, batch, optimizer), peers in sorted(cells.items()):
        if "xpnet" not in peers:
            continue
        seconds, xpnet_spread, info = peers["xpnet"]
        row = {"batch": batch, "optimizer": optimizer, "samples_per_s": (batch / seconds, xpnet_spread),
               "gflops": info["flops"] / seconds / 1e9, "kernels": info.get("kernels"),
               "peak_bytes": info.get("peak_bytes"), "budget_bytes": info.get("budget_bytes")}
        for peer in STEP_PEERS:
            if peer in peers:
                row[peer] = (peers[peer][0] / seconds, peers[peer][1])
        fastest = [row[peer] for peer in ("torch-graph", "jax") if peer in row]
        if fastest:
            row["best"] = min(fastest)
        if device in peaks:
            row["fraction_of_peak"] = info["flops"] / seconds / peaks[device]
        rows[device].append(row)
    return {"rows": rows, "peaks": peaks, "epochs": epochs, "population_steps": population_steps,
            "populations": populations}


def _with_spread(text: str, value_spread) -> str:
    """``text`` and the spread of the timing behind it: ``"1.23x (4%)"``."""
    return f"{text} ({100 * value_spread[1]:.0f}%)"


def _ratio(value_spread) -> str:
    """A ``(ratio, spread)`` as ``"1.23x (4%)"``, ``"-"`` when missing."""
    return "-" if value_spread is None else _with_spread(f"{value_spread[0]:.2f}x", value_spread)


def _number(value_spread, digits: int = 0) -> str:
    """A ``(value, spread)`` as ``"1,234 (4%)"``, ``"-"`` when missing."""
    return "-" if value_spread is None else _with_spread(f"{value_spread[0]:,.{digits}f}", value_spread)


def _over(peer, xpnet):
    """The ratio of the peer's time to xpnet's, with the peer's spread; None when either is missing."""
    return (peer[0] / xpnet[0], peer[1]) if peer and xpnet else None


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
            lines.append(f"| {row['batch']} | {row['optimizer']} | {_number(row['samples_per_s'])} | {ratios} "
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
        lines.append(f"| {device} | {batch} | {rows:,} | {_number(xpnet, 3)} | {_number(torch, 3)} "
                     f"| {_number(jax, 3)} | {_ratio(_over(torch, xpnet))} | {_ratio(_over(jax, xpnet))} |")
    return lines + [""]


def population_step_table(summary: dict) -> list:
    if not summary["population_steps"]:
        return []
    lines = ["### population step: P models of 40-100-100-10, Adam, batch 100 (model-steps/s)", "",
             "| device | P | xpnet | jax jit(vmap) | vs jax |", "|---|---:|---:|---:|---:|"]
    for (device, population), peers in sorted(summary["population_steps"].items()):
        xpnet, jax = peers.get("xpnet"), peers.get("jax")
        rates = [_number(None if timing is None else (population / timing[0], timing[1])) for timing in (xpnet, jax)]
        lines.append(f"| {device} | {population} | {rates[0]} | {rates[1]} | {_ratio(_over(jax, xpnet))} |")
    return lines + [""]


def configurations_table(summary: dict) -> list:
    if not summary["populations"]:
        return []
    lines = ["### configurations trained per hour: population of 64 vs one after another", "",
             "| device | setup | population | sequential | ratio |", "|---|---|---:|---:|---:|"]
    for (device, setup), modes in sorted(summary["populations"].items()):
        together, apart = modes.get("population"), modes.get("sequential")
        ratio = f"{together[0] / apart[0]:.1f}x" if together and apart else "-"
        lines.append(f"| {device} | {setup} | {_number(together)} | {_number(apart)} | {ratio} |")
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
