"""Hydra multirun: what each job returns to a sweeper, and the summary written at the sweep root.

    python -m saneloop -m +recipe=classify seed=0,1,2 optim.lr=1e-3,3e-3

Each job runs the whole pipeline; a job that halts or crashes is recorded in its own report.json
and the sweep goes on (the CLI exits with the worst job's status at the end). `SweepSummary` is a
Hydra callback (registered in conf/saneloop.yaml) that writes `summary.md` and `summary.csv` at
the sweep root: one row per job with its overrides, status, halting gate, validation metrics (`val.*`,
what a sweeper optimises), test metrics (`metric.*`) and run dir.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Optional

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..engine.distributed import launched_rank
from ..errors import EXIT_CRASH, EXIT_HALTED, EXIT_INTERRUPTED, EXIT_PASSED
from ..record.report import write_atomic

FIXED_COLUMNS = ("job", "overrides", "status", "halted_at", "headline", "direction")
# A job's exit status from its report (jobs a launcher ran in other processes tell the CLI nothing else).
STATUS_EXIT = {
    "passed": EXIT_PASSED,
    "halted": EXIT_HALTED,
    "stopped": EXIT_PASSED,  # stop_after=STAGE: every stage up to it ran, no gate halted
    "interrupted": EXIT_INTERRUPTED,
    "error": EXIT_CRASH,
    "crashed": EXIT_CRASH,
}
exit_codes: list[int] = []  # the jobs of the last multirun, as their reports tell; read by the CLI
TAIL_COLUMNS = ("error", "run_dir")


def objective_of(result: Any) -> Optional[float]:
    """What a sweeper optimises, from a run's result: its validation headline, None unless it passed. Never
    the test metric: a search that picked on it would report a number it had tuned on."""
    return _objective(result.report)


def objective(run_dir: Path) -> Optional[float]:
    """What a sweeper optimises: the job's validation headline (e.g. accuracy, bits per character),
    in the direction the task says it improves (conf/hparams_search/optuna.yaml).

    None for a job that did not pass: Hydra's Optuna sweeper records a non-float return as a
    failed trial and goes on, so a halted job never counts as a result.
    """
    return _objective(_read_report(run_dir))


def _objective(report: Optional[dict[str, Any]]) -> Optional[float]:
    if report is None or report.get("status") != "passed" or report.get("headline") is None:
        return None
    value = (report.get("val_metrics") or {}).get(report["headline"])
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


class SweepSummary(Callback):
    """Writes summary.md and summary.csv at the sweep root when a multirun ends."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}  # run dir -> what Hydra told us of that job

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Remember each job's overrides and whether its task function raised (jobs run by a
        launcher in other processes are found on disk instead, by their .hydra/ files)."""
        run_dir = str(Path(config.hydra.runtime.output_dir).resolve())
        self._jobs[run_dir] = {
            "job": OmegaConf.select(config, "hydra.job.num", default=None),
            "overrides": list(job_return.overrides or []),
            "raised": job_return.status == JobStatus.FAILED,
        }

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if launched_rank() != 0:  # under torchrun every process runs the sweep; one summary
            return
        root = Path(config.hydra.sweep.dir)
        rows = summarize(root, self._jobs)
        if not rows:
            return
        exit_codes[:] = [r.get("exit_code", STATUS_EXIT.get(r["status"], EXIT_CRASH)) for r in rows]
        markdown, table = to_markdown(rows, root), to_csv(rows)
        write_atomic(root / "summary.md", markdown)
        write_atomic(root / "summary.csv", table)
        counts = {s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)}
        print(
            f"\nsweep summary: {len(rows)} jobs, "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + f"  ({root / 'summary.md'}, {root / 'summary.csv'})\n{markdown}",
            flush=True,
        )


def summarize(root: Path, known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per job under the sweep root, ordered by job number."""
    jobs = {str(p.parent.parent.resolve()): _job_on_disk(p) for p in root.rglob(".hydra/overrides.yaml")}
    for run_dir, seen in known.items():
        jobs[run_dir] = {**jobs.get(run_dir, {}), **{k: v for k, v in seen.items() if v is not None}}
    rows = [_row(Path(run_dir), job, root) for run_dir, job in jobs.items()]
    return sorted(rows, key=lambda r: (r["job"] is None, r["job"] if r["job"] is not None else 0, r["run_dir"]))


def to_markdown(rows: list[dict[str, Any]], root: Path) -> str:
    """The table for people: overrides shared by every job are listed once, above it."""
    columns, shared = _columns(rows), _shared_overrides(rows)
    lines = [
        f"# saneloop sweep: {root}",
        "",
        f"{len(rows)} jobs; run dirs relative to this folder.",
        objective_line(rows),
        f"Every job: `{' '.join(shared)}`" if shared else "",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        varying = " ".join(o for o in row["overrides"].split(" ") if o not in shared)
        lines.append("| " + " | ".join(_cell(varying if c == "overrides" else row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_columns(rows), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def _row(run_dir: Path, job: dict[str, Any], root: Path) -> dict[str, Any]:
    report = _read_report(run_dir)
    row: dict[str, Any] = {
        "job": job.get("job"),
        "overrides": " ".join(job.get("overrides", [])),
        "run_dir": _relative(run_dir, root),
    }
    if report is None:  # died before writing one, or raised outside the pipeline
        row.update(status="crashed", error="no report.json" + (" (the job raised)" if job.get("raised") else ""))
        return row
    halted = report.get("halted_at")
    row.update(
        status=report["status"],
        error=report.get("error"),
        headline=report.get("headline"),
        halted_at=f"{halted['stage']}/{halted['gate']}" if halted else None,
        exit_code=report.get("exit_code", STATUS_EXIT.get(report["status"], EXIT_CRASH)),
    )
    row["direction"] = report.get("direction")
    row.update({f"val.{k}": v for k, v in (report.get("val_metrics") or {}).items()})
    row.update({f"metric.{k}": v for k, v in report.get("metrics", {}).items()})
    return row


def _job_on_disk(overrides_file: Path) -> dict[str, Any]:
    hydra_file = overrides_file.parent / "hydra.yaml"
    num = OmegaConf.select(OmegaConf.load(hydra_file), "hydra.job.num") if hydra_file.is_file() else None
    return {"job": num, "overrides": [str(o) for o in OmegaConf.load(overrides_file)]}


def _shared_overrides(rows: list[dict[str, Any]]) -> list[str]:
    first = rows[0]["overrides"].split(" ") if rows and rows[0]["overrides"] else []
    return [o for o in first if len(rows) > 1 and all(o in r["overrides"].split(" ") for r in rows[1:])]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The fixed columns, the validation metrics (`val.*`, what the sweep optimised), the test metrics
    (`metric.*`, measured once per job), then the error and the run dir."""
    val = list(dict.fromkeys(k for r in rows for k in r if k.startswith("val.")))
    metrics = list(dict.fromkeys(k for r in rows for k in r if k.startswith("metric.")))
    return [*FIXED_COLUMNS, *val, *metrics, *TAIL_COLUMNS]


def objective_line(rows: list[dict[str, Any]]) -> str:
    """What the sweep optimised, named: the validation headline and its direction (from the jobs' reports)."""
    known = next((r for r in rows if r.get("headline") and r.get("direction")), None)
    if known is None:
        return "Objective: the validation headline (no job passed to name it)."
    return (
        f"Objective (what each job returns to the sweeper): validation {known['headline']} "
        f"(`val.{known['headline']}`), {known['direction']}d; the test metrics (`metric.*`) are measured "
        "once per job and never optimised."
    )


def _read_report(run_dir: Path) -> Optional[dict[str, Any]]:
    try:
        return json.loads((run_dir / "report.json").read_text())
    except (OSError, ValueError):
        return None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:.4g}"
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 100 else text[:97] + "..."  # the CSV keeps the whole text
