"""Tables (Rich) and the derived figures: growth and ratios."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bench.scenarios import Scenario

# Wide enough for the tables when the output is a file or a pipe.
console = Console(width=200)

READS = ("get", "list", "deep", "search", "dnsimple_list", "namecom_get")


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def progress_line(
    backend: str, size: int, scenario: Scenario, concurrency: int, result: dict[str, Any]
) -> str:
    return (
        f"  {scenario.title:<30} c={concurrency:<3} {result['rps']:>8,.0f} req/s  "
        f"p50 {_ms(result['p50_ms']):>7} ms  p99 {_ms(result['p99_ms']):>7} ms  "
        f"errors {result['errors']}  (client CPU {result['client_cpu']:.0%}, "
        f"server CPU {result['server_cpu']:.0%}, machine {result['machine_busy']:.0%})"
    )


def ceiling_line(backend: str, size: int, scenario: Scenario, entry: dict[str, Any]) -> str:
    parts = [
        f"c={c}: {v['rps']:,.0f} req/s (ours {v['ratio']:.2f}x)"
        for c, v in entry["ceiling"].items()
    ]
    return f"  ceiling {scenario.title:<22} {entry['statements']} statements; " + "; ".join(parts)


def growth(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """p50 (concurrency 1, else the lowest measured) of each read at each size, and the ratio of
    the largest size to the smallest."""
    table: dict[str, Any] = {}
    for name in READS:
        points = []
        for step in steps:
            entry = step["scenarios"].get(name)
            if not entry:
                continue
            lowest = min(entry["runs"], key=int)
            points.append((step["contacts"], entry["runs"][lowest]["p50_ms"]))
        if points:
            table[name] = {
                "p50_ms": {str(size): p50 for size, p50 in points},
                "ratio": points[-1][1] / points[0][1] if points[0][1] else None,
            }
    return table


def print_backend(result: dict[str, Any]) -> None:
    backend = result["backend"]
    for step in result["steps"]:
        table = Table(
            title=f"{backend}: {step['contacts']:,} contacts "
            f"(req/s, p50/p99 ms, errors; ceiling = same SQL through the raw driver)"
        )
        table.add_column("scenario")
        concurrencies = sorted({c for e in step["scenarios"].values() for c in e["runs"]}, key=int)
        for c in concurrencies:
            table.add_column(f"c={c} req/s", justify="right")
            table.add_column(f"c={c} p50/p99", justify="right")
            table.add_column(f"c={c} err", justify="right")
        for c in concurrencies:
            table.add_column(f"ceiling c={c}", justify="right")
            table.add_column(f"ours/ceil c={c}", justify="right")
        for entry in step["scenarios"].values():
            row = [entry["title"]]
            for c in concurrencies:
                run = entry["runs"].get(c)
                if run is None:
                    row += ["-", "-", "-"]
                    continue
                row += [
                    f"{run['rps']:,.0f}",
                    f"{_ms(run['p50_ms'])}/{_ms(run['p99_ms'])}",
                    str(run["errors"]),
                ]
            for c in concurrencies:
                ceiling = entry.get("ceiling", {}).get(c)
                row += (
                    [f"{ceiling['rps']:,.0f}", f"{ceiling['ratio']:.2f}"] if ceiling else ["-", "-"]
                )
            table.add_row(*row)
        console.print(table)
        for name, probe in step.get("probes", {}).items():
            console.print(
                f"probe {name}: p50 {_ms(probe['p50_ms'])} ms, max {_ms(probe['max_ms'])} ms "
                f"({probe['path']}, total {probe['total']:,})"
            )
        prop = step["propagation"]
        console.print(
            f"propagation: PATCH of a registrant of many domains: {prop['latency_ms']:,.0f} ms "
            f"(runs {', '.join(f'{v:,.0f}' for v in prop['latencies_ms'])}), "
            f"domain.contacts_changed events per PATCH {prop['events_per_patch']}"
        )
    if result["growth"] and len(result["steps"]) > 1:
        sizes = [str(step["contacts"]) for step in result["steps"]]
        table = Table(title=f"{backend}: growth, p50 ms at concurrency 1")
        table.add_column("read")
        for size in sizes:
            table.add_column(f"{int(size):,}", justify="right")
        table.add_column("largest/smallest", justify="right")
        for name, entry in result["growth"].items():
            table.add_row(
                name,
                *[_ms(entry["p50_ms"].get(size, float("nan"))) for size in sizes],
                f"{entry['ratio']:.2f}" if entry["ratio"] else "-",
            )
        console.print(table)
    imported = result.get("import")
    if imported:
        console.print(
            f"import: {imported['rows']:,} rows in {imported['seconds']:.1f} s = "
            f"{imported['rows_per_second']:,.0f} rows/s (`nichandle contacts import`)"
        )
    delivered = result.get("outbox")
    if delivered:
        console.print(f"outbox: {_outbox(delivered)}")
    seeding = [s["seeding"] for s in result["steps"] if s.get("seeding")]
    for seed in seeding:
        console.print(
            f"seeding: {seed['rows']:,} rows via {seed['via']} at "
            f"{seed['rows_per_second']:,.0f} rows/s"
        )


def _outbox(delivered: dict[str, Any]) -> str:
    return (
        f"{delivered['events']:,} events delivered to a webhook in {delivered['seconds']:.1f} s = "
        f"{delivered['events_per_second']:,.0f} events/s, one `nichandle worker` (steady "
        f"{delivered['steady_events_per_second']:,.0f}; {delivered['requests']:,} requests)"
    )


# -- Markdown, for bench/README.md: `python -m bench.report bench/results/<file>.json ...` -------


def markdown(result: dict[str, Any]) -> str:
    """The result file as Markdown tables: every size, the growth, propagation and import."""
    backend = result["backend"]
    lines: list[str] = []
    for step in result["steps"]:
        lines.append(f"**{backend}, {step['contacts']:,} contacts**\n")
        concurrencies = sorted({c for e in step["scenarios"].values() for c in e["runs"]}, key=int)
        head = ["scenario"]
        for c in concurrencies:
            head += [f"c={c} req/s", f"c={c} p50 / p99 ms", f"c={c} errors"]
        head += [f"ceiling c={c} req/s (ours/ceiling)" for c in concurrencies]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for entry in step["scenarios"].values():
            row = [entry["title"]]
            for c in concurrencies:
                run = entry["runs"][c]
                row += [
                    f"{run['rps']:,.0f}",
                    f"{_ms(run['p50_ms'])} / {_ms(run['p99_ms'])}",
                    f"{run['errors']}",
                ]
            for c in concurrencies:
                ceiling = entry.get("ceiling", {}).get(c)
                row.append(f"{ceiling['rps']:,.0f} ({ceiling['ratio']:.2f})" if ceiling else "-")
            lines.append("| " + " | ".join(row) + " |")
        cpu = [max(r["client_cpu"] for r in e["runs"].values()) for e in step["scenarios"].values()]
        prop = step["propagation"]
        lines.append("")
        lines.append(
            f"Client CPU at most {max(cpu):.0%} of a core. Propagation: PATCH of a registrant "
            f"of {result['settings']['fanout_domains']:,} domains {prop['latency_ms']:,.0f} ms "
            f"(runs {', '.join(f'{v:,.0f}' for v in prop['latencies_ms'])}), "
            f"`domain.contacts_changed` events per PATCH: "
            f"{', '.join(f'{n:,}' for n in prop['events_per_patch'])}."
        )
        for name, probe in step.get("probes", {}).items():
            lines.append(
                f"Probe {name.replace('_', ' ')} (`{probe['path']}`, total {probe['total']:,}): "
                f"p50 {_ms(probe['p50_ms'])} ms."
            )
        lines.append("")
    if len(result["steps"]) > 1:
        sizes = [str(step["contacts"]) for step in result["steps"]]
        lines.append(f"**{backend}, growth: p50 ms at concurrency 1**\n")
        lines.append(
            "| read | " + " | ".join(f"{int(s):,}" for s in sizes) + " | largest/smallest |"
        )
        lines.append("|" + "---|" * (len(sizes) + 2))
        for name, entry in result["growth"].items():
            values = [_ms(entry["p50_ms"][s]) if s in entry["p50_ms"] else "-" for s in sizes]
            ratio = f"{entry['ratio']:.2f}" if entry["ratio"] else "-"
            lines.append(f"| {name} | " + " | ".join(values) + f" | {ratio} |")
        lines.append("")
    imported = result.get("import")
    if imported:
        lines.append(
            f"Import ({backend}): {imported['rows']:,} rows in {imported['seconds']:.1f} s = "
            f"{imported['rows_per_second']:,.0f} rows/s."
        )
    delivered = result.get("outbox")
    if delivered:
        lines.append(f"Outbox ({backend}): {_outbox(delivered)}.")
    for step in result["steps"]:
        seed = step.get("seeding")
        if seed:
            lines.append(
                f"Seeding to {step['contacts']:,} ({backend}): {seed['rows']:,} rows via "
                f"{seed['via']} at {seed['rows_per_second']:,.0f} rows/s."
            )
    lines.append(f"\nWall time: {result['wall_seconds'] / 60:.1f} min.\n")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    for name in sys.argv[1:]:
        with open(name) as stream:
            print(markdown(json.load(stream)))
