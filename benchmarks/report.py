"""Turn pytest-benchmark JSON into markdown tables: samples/s, ratios to peers, fraction of peak, memory.

    python -m pytest benchmarks --profile full --benchmark-json=results.json
    python -m benchmarks.report results.json

Ratios compare medians measured in the same run. "vs torch" is xpnet's samples/s over PyTorch eager
with default optimizer settings (above 1 means xpnet is faster); "vs fused" uses ``fused=True``;
"vs sklearn" is over MLPClassifier. "% peak" is xpnet's achieved GFLOP/s (6 x batch x sum of
fan_in x fan_out per step) over the float32 matrix-multiply rate measured in the same run.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict


def load(path: str) -> list:
    with open(path) as file:
        return json.load(file)["benchmarks"]


def step_seconds(entry: dict) -> float:
    """Median seconds of one training step (an sklearn call may run several)."""
    return entry["stats"]["median"] / entry["extra_info"].get("steps_per_call", 1)


def summarize(benchmarks: list) -> dict:
    """device -> list of row dicts, one per (batch, optimizer), with every peer's step time."""
    peaks, cells, populations = {}, defaultdict(dict), defaultdict(dict)
    for entry in benchmarks:
        info = entry["extra_info"]
        if info.get("peer") == "peak":
            peaks[info["device"]] = info["flops"] / entry["stats"]["median"]
            continue
        if "setup" in info:
            per_hour = info["configurations"] * 3600 / entry["stats"]["median"]
            populations[(info["device"], info["setup"])][info["peer"]] = per_hour
            continue
        cells[(info["device"], info["batch"], info["optimizer"])][info["peer"]] = (step_seconds(entry), info)
    rows = defaultdict(list)
    for (device, batch, optimizer), peers in sorted(cells.items()):
        if "xpnet" not in peers:
            continue
        seconds, info = peers["xpnet"]
        row = {"batch": batch, "optimizer": optimizer, "samples_per_s": batch / seconds,
               "gflops": info["flops"] / seconds / 1e9, "kernels": info.get("kernels"),
               "peak_bytes": info.get("peak_bytes"), "budget_bytes": info.get("budget_bytes")}
        for peer in ("torch", "torch-fused", "sklearn"):
            if peer in peers:
                row[peer] = peers[peer][0] / seconds
        if device in peaks:
            row["fraction_of_peak"] = info["flops"] / seconds / peaks[device]
        rows[device].append(row)
    return {"rows": rows, "peaks": peaks, "populations": populations}


def _ratio(value):
    return f"{value:.2f}x" if value is not None else "-"


def markdown(summary: dict) -> str:
    lines = []
    for device, rows in summary["rows"].items():
        peak = summary["peaks"].get(device)
        lines.append(f"### {device}" + (f" (measured float32 matmul peak {peak / 1e9:.0f} GFLOP/s)" if peak else ""))
        lines.append("")
        lines.append("| batch | optimizer | xpnet samples/s | vs torch | vs torch fused | vs sklearn | GFLOP/s "
                     "| % peak | peak memory / budget |")
        lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            memory = "-"
            if row.get("peak_bytes") and row.get("budget_bytes"):
                memory = f"{row['peak_bytes'] / 2**20:.1f} / {row['budget_bytes'] / 2**20:.1f} MiB " \
                         f"({row['peak_bytes'] / row['budget_bytes']:.2f})"
            fraction = f"{100 * row['fraction_of_peak']:.0f}%" if "fraction_of_peak" in row else "-"
            lines.append(f"| {row['batch']} | {row['optimizer']} | {row['samples_per_s']:,.0f} "
                         f"| {_ratio(row.get('torch'))} | {_ratio(row.get('torch-fused'))} "
                         f"| {_ratio(row.get('sklearn'))} | {row['gflops']:.0f} | {fraction} | {memory} |")
        lines.append("")
    if summary["populations"]:
        lines.append("### configurations trained per hour: population of 64 vs one after another")
        lines.append("")
        lines.append("| device | setup | population | sequential | ratio |")
        lines.append("|---|---|---:|---:|---:|")
        for (device, setup), modes in sorted(summary["populations"].items()):
            together, apart = modes.get("population"), modes.get("sequential")
            ratio = f"{together / apart:.1f}x" if together and apart else "-"
            lines.append(f"| {device} | {setup} | {together or 0:,.0f} | {apart or 0:,.0f} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="a file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    print(markdown(summarize(load(args.json))))


if __name__ == "__main__":
    main()
