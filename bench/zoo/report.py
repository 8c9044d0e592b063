"""The zoo's tables: per setup (seeds passed, where the others halted) and per gate (false halts, near
misses, median margin), from the rows scripts/bugbench.py records.

The zoo runs with every gate's failure recorded but waived, so each gate's verdict is known on every
run. The gate a normal run would halt at is the first one that failed: the stages before it passed,
and each stage reseeds from the run's seed, so what ran up to it is what a normal run does.
"""

from __future__ import annotations

import statistics
from typing import Any, Optional

NEAR = 0.2  # a pass within 20% of its threshold is a near miss
WAIVER = "zoo: recorded, not halted"


def waive_every_gate(gate_names: list[str]) -> list[str]:
    """Overrides that record a failed gate as waived, so the run goes on and every gate is measured."""
    return [f"gates.{name}.waive='{WAIVER}'" for name in gate_names]


def gate_records(report: dict) -> list[dict[str, Any]]:
    """Each gate's verdict in a report.json, in the order the run met them."""
    return [
        {
            "stage": s["name"],
            "gate": g["name"],
            "status": "failed" if g["status"] == "waived" and WAIVER in str(g["message"]) else g["status"],
            "value": g.get("value"),
            "expected": g.get("expected"),
            "margin": g.get("margin"),
            "seconds": g.get("seconds"),
            "message": str(g.get("message") or "")[:400],
        }
        for s in report.get("stages", [])
        for g in s["gates"]
    ]


def first_failed(gates: list[dict]) -> Optional[dict]:
    return next((g for g in gates if g["status"] == "failed"), None)


def _margin(g: dict) -> Optional[float]:
    m = g.get("margin")
    return float(m) if isinstance(m, (int, float)) else None


def per_gate(rows: list[dict]) -> list[dict[str, Any]]:
    """For each gate: runs it judged, false halts (first failure of a run), failures anywhere, near misses,
    median margin and median seconds."""
    names = list(dict.fromkeys(g["gate"] for r in rows for g in r.get("gates", [])))
    table = []
    for name in names:
        judged = [g for r in rows for g in r.get("gates", []) if g["gate"] == name and g["status"] != "skipped"]
        halts = [r for r in rows if (first_failed(r.get("gates", [])) or {}).get("gate") == name]
        margins = [m for g in judged if (m := _margin(g)) is not None]
        near = [g for g in judged if g["status"] == "passed" and (m := _margin(g)) is not None and m < NEAR]
        seconds = [g["seconds"] for g in judged if g.get("seconds") is not None]
        table.append(
            {
                "gate": name,
                "judged": len(judged),
                "false_halts": len(halts),
                "failed_anywhere": sum(g["status"] == "failed" for g in judged),
                "near_misses": len(near),
                "median_margin": round(statistics.median(margins), 3) if margins else None,
                "min_margin": round(min(margins), 3) if margins else None,
                "median_s": round(statistics.median(seconds), 3) if seconds else None,
            }
        )
    return table


def zoo_totals(rows: list[dict]) -> dict[str, Any]:
    halted = [r for r in rows if r["status"] != "passed" or first_failed(r.get("gates", []))]
    return {
        "setups": len({r["name"] for r in rows}),
        "runs": len(rows),
        "false_halts": len(halted),
        "halted": [f"{r['id']}: {_where(r)}" for r in halted],
        "median_run_s": statistics.median(r["seconds"] for r in rows) if rows else None,
    }


def _where(row: dict) -> str:
    failed = first_failed(row.get("gates", []))
    if failed:
        return f"{failed['stage']}/{failed['gate']}"
    return f"{row['status']} {row.get('error') or ''}".strip()


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:g}" if isinstance(x, (int, float)) else str(x)


def zoo_markdown(rows: list[dict], totals: dict, wall: float) -> str:
    lines = [
        f"**{totals['false_halts']} false halts** in {totals['runs']} runs ({totals['setups']} setups x seeds) · "
        f"median run {totals['median_run_s']:.1f} s · zoo wall time {wall:.0f} s",
        "",
        "| gate | runs judged | false halts | failed anywhere | near misses (< 20%) | median margin | min margin |"
        " median s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in per_gate(rows):
        lines.append(
            f"| {g['gate']} | {g['judged']} | {g['false_halts']} | {g['failed_anywhere']} | {g['near_misses']} | "
            f"{_num(g['median_margin'])} | {_num(g['min_margin'])} | {_num(g['median_s'])} |"
        )
    lines += ["", "| setup | recipe | varies | seeds passed | halted at | median s |", "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["name"] for r in rows):
        runs = [r for r in rows if r["name"] == name]
        bad = [r for r in runs if r["status"] != "passed" or first_failed(r.get("gates", []))]
        where = ", ".join(f"seed {r['seed']}: {_where(r)}" for r in bad) or "—"
        lines.append(
            f"| `{name}` | {runs[0]['recipe']} | {runs[0]['note']} | {len(runs) - len(bad)}/{len(runs)} | {where} | "
            f"{statistics.median(r['seconds'] for r in runs):.1f} |"
        )
    return "\n".join(lines) + "\n"
