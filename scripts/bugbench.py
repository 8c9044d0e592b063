"""Bug bench (issue 7): run every planted bug and clean control through the pipeline; write the tables.

    python scripts/bugbench.py                  # everything, 2 processes, tables into docs/
    python scripts/bugbench.py --only cls_eval_dropout,lm_no_mask --no-clean
    python scripts/bugbench.py --readme         # also replace the table in README.md
    python scripts/bugbench.py --zoo            # the clean-model zoo x seeds 0-4: docs/zoo.json, docs/zoo_table.md

Per case it records the expected gate, the gate that halted, the status, the exit code and the time to
verdict (wall seconds of `pipeline.run`, config composed, until the report is written). Totals: recall
(planted bugs halted by any gate), precision of attribution (halted by the expected gate), the
false-positive rate on clean controls, median time to verdict. docs/bugbench.md explains the cases.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.suite import Case, bugs, clean  # noqa: E402
from bench.zoo import report as zoo_report  # noqa: E402
from bench.zoo.cases import zoo  # noqa: E402


def _quiet_worker() -> None:
    """One thread per worker (2 cores), and the runs' terminal output out of the bench's."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def run_case(case: Case, root: str, record_all: bool = False, stop_after: str | None = None) -> dict:
    """Compose the case's config as the CLI does and run the pipeline in this process.

    `record_all`: every gate's failure is recorded as waived, so the run goes on and each gate is judged
    (the zoo); the row's `gates` holds every verdict. `stop_after`: the last stage to run (the tests give
    a planted bug's the stage of its expected gate, so a bug that stops halting fails fast; the bench
    itself runs every stage, since it records what halts where)."""
    from saneloop.checks import GATES

    run_dir = Path(root) / case.id
    row = {
        "id": case.id,
        "name": case.name,
        "recipe": case.recipe,
        "kind": case.kind,
        "seed": case.seed,
        "pattern": case.pattern,
        "expected": case.expected,
        "note": case.note,
        "overrides": case.all_overrides(),
    }
    extra = zoo_report.waive_every_gate([gate.name for gate in GATES]) if record_all else []
    extra += [f"stop_after={stop_after}"] if stop_after else []
    start = time.perf_counter()
    config_dir = REPO / case.config_dir if case.config_dir else None
    if config_dir is not None and str(config_dir.parent) not in sys.path:
        sys.path.insert(0, str(config_dir.parent))  # the example's own modules, as `cd` there makes them
    try:
        code = _run(case, run_dir, extra, config_dir)
        report = json.loads((run_dir / "report.json").read_text())
    except BaseException as e:  # noqa: BLE001 - a case that breaks the bench is a row, not a stop
        code, report = -1, {"status": "bench-error", "error": f"{type(e).__name__}: {e}"}
    row["seconds"] = round(time.perf_counter() - start, 2)
    row["exit_code"] = code
    row["status"] = report.get("status")
    halted = report.get("halted_at") or {}
    row["halted_stage"], row["halted_gate"] = halted.get("stage"), halted.get("gate")
    row["error"] = report.get("error")
    row["gates"] = zoo_report.gate_records(report)
    if row["halted_gate"]:
        g = next((g for s in report.get("stages", []) for g in s["gates"] if g["name"] == row["halted_gate"]), {})
        row["message"] = (g.get("message") or "")[:300]
    return row


def _run(case: Case, run_dir: Path, extra: list[str], config_dir: Path | None = None) -> int:
    """One pipeline run in this process; or launched as several processes (`case.processes`); or a run,
    cut back to the checkpoint of step `case.resume_from`, then resumed from it (issue 14)."""
    from saneloop.runner import compose_config, run_config

    overrides = [*case.all_overrides(), *extra]
    if getattr(case, "processes", 1) > 1:
        return _launched(case, run_dir, overrides)
    code = run_config(compose_config(case.recipe, overrides, config_dir)[0], run_dir).exit_code
    if getattr(case, "resume_from", None) is None:
        return code
    from saneloop.engine import checkpoint

    for path in checkpoint.complete(run_dir):
        if int(path.stem.split("-")[1]) > case.resume_from:
            path.unlink()
    return run_config(compose_config(case.recipe, [*overrides, f"resume={run_dir}"], config_dir)[0], run_dir).exit_code


def _launched(case: Case, run_dir: Path, overrides: list[str]) -> int:
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(case.processes)]
    command += ["--master_port", str(port), "-m", "saneloop", f"+recipe={case.recipe}", *overrides]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*command, f"hydra.run.dir={run_dir}"], cwd=REPO, env=env, capture_output=True).returncode


def totals(rows: list[dict]) -> dict:
    bug_rows = [r for r in rows if r["kind"] == "bug"]
    clean_rows = [r for r in rows if r["kind"] == "clean"]
    caught = [r for r in bug_rows if r["status"] == "halted"]
    attributed = [r for r in caught if r["halted_gate"] == r["expected"]]
    flagged = [r for r in clean_rows if r["status"] != "passed"]
    verdicts = [r["seconds"] for r in caught]
    return {
        "bugs": len(bug_rows),
        "caught": len(caught),
        "recall": len(caught) / len(bug_rows) if bug_rows else None,
        "attributed": len(attributed),
        "attribution_precision": len(attributed) / len(caught) if caught else None,
        "misses": [r["id"] for r in bug_rows if r["status"] != "halted"],
        "misattributed": [
            f"{r['id']}: expected {r['expected']}, halted at {r['halted_gate']}"
            for r in caught
            if r["halted_gate"] != r["expected"]
        ],
        "clean_runs": len(clean_rows),
        "false_positives": len(flagged),
        "false_positive_rate": len(flagged) / len(clean_rows) if clean_rows else None,
        "flagged": [f"{r['id']}: {r['status']} at {r['halted_gate']} {r.get('error') or ''}".strip() for r in flagged],
        "median_time_to_verdict_s": statistics.median(verdicts) if verdicts else None,
        "median_clean_run_s": statistics.median(r["seconds"] for r in clean_rows) if clean_rows else None,
    }


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def markdown(rows: list[dict], t: dict, wall: float) -> str:
    lines = [
        f"**Recall** {t['caught']}/{t['bugs']} = {_pct(t['recall'])} · **attribution precision** "
        f"{t['attributed']}/{t['caught']} = {_pct(t['attribution_precision'])} · **false positives** "
        f"{t['false_positives']}/{t['clean_runs']} clean runs = {_pct(t['false_positive_rate'])} · "
        f"**median time to verdict** {t['median_time_to_verdict_s']} s (clean runs: median "
        f"{t['median_clean_run_s']} s end to end) · bench wall time {wall:.0f} s",
        "",
        "| case | recipe | pattern | expected gate | halted at | s | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in [r for r in rows if r["kind"] == "bug"]:
        got = r["halted_gate"] or (r["status"] if r["status"] != "passed" else "— (passed)")
        mark = "" if r["halted_gate"] == r["expected"] or (r["expected"] == "none" and not r["halted_gate"]) else " ⚠"
        lines.append(
            f"| `{r['name']}` | {r['recipe']} | {r['pattern']} | {r['expected']} | {got}{mark} | "
            f"{r['seconds']:.1f} | {r['exit_code']} |"
        )
    lines += ["", "| clean control | recipe | seeds passed | flagged | median s |", "|---|---|---|---|---|"]
    names = dict.fromkeys(r["name"] for r in rows if r["kind"] == "clean")
    for name in names:
        runs = [r for r in rows if r["name"] == name]
        passed = [r for r in runs if r["status"] == "passed"]
        bad = ", ".join(f"seed {r['seed']}: {r['halted_gate'] or r['status']}" for r in runs if r["status"] != "passed")
        note = f" ({runs[0]['note']})" if runs[0]["note"] else ""
        lines.append(
            f"| `{name}`{note} | {runs[0]['recipe']} | {len(passed)}/{len(runs)} | {bad or '—'} | "
            f"{statistics.median(r['seconds'] for r in runs):.1f} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    start, end = "<!-- bugbench:start -->", "<!-- bugbench:end -->"
    head, rest = text.split(start)
    _, tail = rest.split(end)
    readme.write_text(f"{head}{start}\n{table}{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated case names")
    p.add_argument("--recipe", help="only these recipes' cases (comma-separated)")
    p.add_argument("--no-clean", action="store_true", help="skip the clean controls")
    p.add_argument("--no-bugs", action="store_true", help="skip the planted bugs")
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "docs"), help="where bugbench.json and bugbench_table.md go")
    p.add_argument("--runs", help="run dirs go here (default: a temp dir, removed)")
    p.add_argument("--readme", action="store_true", help="replace the table between the README's bugbench markers")
    p.add_argument(
        "--zoo", action="store_true", help="run the clean-model zoo (bench/zoo) instead, every gate recorded"
    )
    p.add_argument("--name", help="output files' name: NAME.json, NAME_table.md (default bugbench, or zoo)")
    p.add_argument("--seeds", help="comma-separated seeds of the zoo and the clean controls (default: 0-4)")
    args = p.parse_args(argv)

    if args.zoo:
        return run_zoo(args)
    cases = ([] if args.no_bugs else bugs()) + ([] if args.no_clean else clean())
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
    if args.recipe:
        cases = [c for c in cases if c.recipe in args.recipe.split(",")]
    cases = _on_seeds(_on_this_machine(cases), args.seeds)
    rows, wall = run_all(cases, args)
    t = totals(rows)
    out, name = Path(args.out), args.name or "bugbench"
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, t, wall)
    (out / f"{name}.json").write_text(json.dumps({"totals": t, "wall_s": round(wall, 1), "cases": rows}, indent=1))
    (out / f"{name}_table.md").write_text(table)
    if args.readme:
        update_readme(table)
    print(json.dumps(t, indent=1))
    return 0


def _on_this_machine(cases: list[Case]) -> list[Case]:
    """The cases this machine can run: a CUDA-only plant (fp16's gradient scaler) is left out without CUDA."""
    import torch

    if torch.cuda.is_available():
        return cases
    left = [c.name for c in cases if getattr(c, "cuda", False)]
    if left:
        print(f"no CUDA here: left out {', '.join(left)} (run them where a GPU is)", file=sys.stderr)
    return [c for c in cases if not getattr(c, "cuda", False)]


def run_all(cases: list[Case], args: argparse.Namespace, record_all: bool = False) -> tuple[list[dict], float]:
    """Run `cases` in `args.jobs` processes; the rows in the cases' order, and the wall seconds."""
    order = {c.id: i for i, c in enumerate(cases)}
    # Long cases (charlm) first, so two workers finish together.
    queue = sorted(cases, key=lambda c: c.recipe != "charlm")
    rows: list[dict] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bugbench-") as tmp:
        root = args.runs or tmp
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"), initializer=_quiet_worker) as pool:
            futures = {pool.submit(run_case, c, root, record_all): c for c in queue}
            for f in as_completed(futures):
                rows.append(f.result())
                _progress(rows[-1], len(rows), len(cases))
    rows.sort(key=lambda r: order[r["id"]])
    return rows, time.perf_counter() - started


def _progress(row: dict, done: int, total: int) -> None:
    if row["kind"] == "zoo":
        failed = zoo_report.first_failed(row["gates"])
        ok, got = row["status"] == "passed" and failed is None, failed["gate"] if failed else row["status"]
    else:
        ok = (
            row["status"] == "passed"
            if row["kind"] == "clean" or row["expected"] == "none"
            else row["halted_gate"] == row["expected"]
        )
        got = row["halted_gate"] or row["status"]
    print(
        f"[{done}/{total}] {'ok ' if ok else 'MISS'} {row['id']:<40} expected {row['expected']:<20} "
        f"got {got:<20} {row['seconds']:6.1f}s",
        flush=True,
    )


def _on_seeds(cases: list[Case], seeds: str | None) -> list[Case]:
    """The zoo's and the clean controls' cases on `seeds` only (planted bugs run once, on their own seed)."""
    if not seeds:
        return cases
    wanted = {int(s) for s in seeds.split(",")}
    return [c for c in cases if c.kind == "bug" or c.seed in wanted]


def run_zoo(args: argparse.Namespace) -> int:
    """The clean-model zoo: every setup on seeds 0-4, every gate judged; per-gate and per-setup tables."""
    cases = zoo()
    if args.only:
        cases = [c for c in cases if c.name in set(args.only.split(","))]
    if args.recipe:
        cases = [c for c in cases if c.recipe == args.recipe]
    cases = _on_seeds(cases, args.seeds)
    rows, wall = run_all(cases, args, record_all=True)
    t = {**zoo_report.zoo_totals(rows), "per_gate": zoo_report.per_gate(rows)}
    out, name = Path(args.out), args.name or "zoo"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"totals": t, "wall_s": round(wall, 1), "cases": rows}, indent=1))
    (out / f"{name}_table.md").write_text(zoo_report.zoo_markdown(rows, t, wall))
    print(json.dumps({k: v for k, v in t.items() if k != "per_gate"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
