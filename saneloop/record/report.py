"""The run's record: report.json for machines, report.md for people, a verdict table for the terminal.

Written atomically (temp file + rename), so a crash never leaves a half-written report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from ..checks.base.verdict import LABEL, NEAR_MISS, Verdict
from ..checks.contamination import CopyMetrics
from .atomic import replacing


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (see `atomic.replacing`)."""
    with replacing(path) as handle:
        handle.write(text.encode())


def _jsonable(value: Any) -> Any:
    """NaN/Inf are not JSON: write them as strings so the file stays parseable everywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def verdict_label(gate: dict[str, Any]) -> str:
    """PASS, FAIL, ...; a pass within 20% of failing reads "PASS (near miss)"; one that could not decide (out
    of its time budget) "PASS (inconclusive)"; a model probe run after a data gate halted the run, "FAIL (finding)"."""
    label = f"{LABEL[gate['status']]} (near miss)" if gate.get("near_miss") else LABEL[gate["status"]]
    label = f"{label} (inconclusive)" if gate.get("inconclusive") else label
    return f"{label} (finding)" if gate.get("finding") else label


def margin_text(margin: Any) -> str:
    """A verdict's margin to its threshold as a percentage of it; blank for exact gates."""
    if margin is None:
        return ""
    if isinstance(margin, str) or not math.isfinite(margin):  # "inf" once written as JSON
        return str(margin)
    return f"{margin:+.0%}"


class Report:
    def __init__(self, run_dir: Path, recipe: str) -> None:
        self.run_dir = run_dir
        self.recipe = recipe
        self.status = "running"
        self.exit_code: Optional[int] = None  # the process exit status, once the run has ended
        self.halted_at: Optional[dict[str, str]] = None
        self.error: Optional[str] = None
        self.stages: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}  # the test set's, measured once, at the end
        self.val_metrics: dict[str, Any] = {}  # the validation set's: what decides (gates, a sweep's objective)
        self.headline: Optional[str] = None  # the metric that says whether the run is any good
        self.direction: Optional[str] = None  # "maximize" or "minimize": which way the headline improves
        self.baselines: dict[str, Any] = {}  # scored on the test set, beside `metrics`
        self.val_baselines: dict[str, Any] = {}  # scored on the validation set (what beats_baselines compares)
        self.contamination: Optional[CopyMetrics] = None  # the test metric without the training copies (if any)
        self.notes: list[str] = []
        self.figures: dict[str, list[str]] = {}  # gate -> figures (paths relative to the run dir) beside it
        self.checkpoint: Optional[dict[str, Any]] = None  # latest checkpoint, how to resume, resumed from
        self.train: dict[str, Any] = {}  # what the train loop counted: fp16's skipped steps, the final loss scale
        self.verdicts: list[Verdict] = []  # every gate's verdict, as the checks returned them
        # What the gates cost in plain training steps of the model (setup times one; engine/budget_ledger.py),
        # and the evaluations' shares of training and of one evaluation
        self.cost: dict[str, Any] = {}

    def start_stage(self, name: str) -> None:
        self.stages.append({"name": name, "seconds": None, "gates": []})

    def end_stage(self, seconds: float) -> None:
        self.stages[-1]["seconds"] = round(seconds, 3)

    def add_figure(self, gate: str, path: str) -> None:
        if path not in self.figures.setdefault(gate, []):
            self.figures[gate].append(path)

    def remove_figure(self, gate: str, path: str) -> None:
        if path in self.figures.get(gate, []):
            self.figures[gate].remove(path)
            if not self.figures[gate]:
                del self.figures[gate]

    def record(self, verdict: Verdict, seconds: Optional[float] = None, finding: bool = False) -> None:
        """Add a gate's verdict to the current stage, with what it cost (seconds, figures included).
        `finding`: a model probe run after a data gate halted the run (reported, never halting)."""
        self.verdicts.append(verdict)
        entry = verdict.to_json()
        entry["finding"] = finding
        if verdict.details.get("inconclusive"):  # passed without deciding: says why (e.g. "budget")
            entry["inconclusive"] = verdict.details["inconclusive"]
        if seconds is not None:
            entry["seconds"] = round(seconds, 3)
        self.stages[-1]["gates"].append(entry)

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Every failed gate, in the order the run met them; `halted`: the one the run halted at."""
        where = self.halted_at or {}
        return [
            {
                "stage": s["name"],
                "gate": g["name"],
                "message": g["message"],
                "halted": (s["name"], g["name"]) == (where.get("stage"), where.get("gate")),
                "finding": bool(g.get("finding")),
            }
            for s in self.stages
            for g in s["gates"]
            if g["status"] == "failed"
        ]

    @property
    def waivers(self) -> list[dict[str, str]]:
        return [
            {"stage": s["name"], "gate": g["name"], "message": g["message"]}
            for s in self.stages
            for g in s["gates"]
            if g["status"] == "waived"
        ]

    def to_json(self) -> dict[str, Any]:
        return _jsonable(
            {
                "status": self.status,
                "exit_code": self.exit_code,
                "recipe": self.recipe,
                "halted_at": self.halted_at,
                "error": self.error,
                "stages": [
                    {**s, "gates": [{k: v for k, v in g.items() if k != "details"} for g in s["gates"]]}
                    for s in self.stages
                ],
                "failures": self.failures,
                "waivers": self.waivers,
                "metrics": self.metrics,
                "val_metrics": self.val_metrics,
                "baselines": self.baselines,
                "val_baselines": self.val_baselines,
                "notes": self.notes,
                "figures": self.figures,
                "headline": self.headline,
                "direction": self.direction,
                "checkpoint": self.checkpoint,
                "train": self.train,
                "contamination": self.contamination.to_json() if self.contamination else None,
                "cost": self.costs(),
            }
        )

    def costs(self) -> dict[str, Any]:
        """`cost`, with the stages before `train` counted in plain training steps once a step was timed."""
        step = self.cost.get("plain_step_s")
        if not step:
            return dict(self.cost)
        before = sum(s["seconds"] or 0.0 for s in self.stages if s["name"] not in ("train", "evaluate"))
        return {**self.cost, "before_train_s": round(before, 3), "before_train_steps": round(before / step, 1)}

    def write(self) -> None:
        write_atomic(self.run_dir / "report.json", json.dumps(self.to_json(), indent=2) + "\n")
        write_atomic(self.run_dir / "report.md", self.markdown())

    def markdown(self) -> str:
        lines = [f"# saneloop report: {self.recipe}", "", f"**Status: {self.status}**"]
        if self.halted_at:
            lines.append(f"Halted at stage `{self.halted_at['stage']}`, gate `{self.halted_at['gate']}`.")
        if self.error:
            lines.append(f"Error: {self.error}")
        if self.checkpoint and self.checkpoint.get("resume_command"):
            lines.append(f"Resume with `{self.checkpoint['resume_command']}` (checkpoint {self.checkpoint['path']}).")
        lines += _failures(self.failures)
        lines += [
            "",
            "| stage | gate | verdict | value | expected | margin | message |",
            "|---|---|---|---|---|---|---|",
        ]
        for stage in self.stages:
            for g in stage["gates"]:
                message = str(g["message"]).replace("|", "\\|").replace("\n", " ")
                message += "".join(f" [figure]({p})" for p in self.figures.get(g["name"], []))
                lines.append(
                    f"| {stage['name']} | {g['name']} | {verdict_label(g)} | {g['value']} | "
                    f"{g['expected']} | {margin_text(g.get('margin'))} | {message} |"
                )
        near = [g["name"] for s in self.stages for g in s["gates"] if g.get("near_miss")]
        if near:
            lines += [
                "",
                f"Near misses (passed within {NEAR_MISS:.0%} of failing): {', '.join(near)}. Look at them before "
                "trusting the run: a small change of data or seed may halt it.",
            ]
        lines += _inconclusive(self.stages)
        lines += ["", "## Stage times", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {s['name']} | {s['seconds']} |" for s in self.stages]
        lines += _cost_lines(self.costs())
        lines += _by_split("Metrics", "metric", self.val_metrics, self.metrics)
        if self.val_metrics or self.metrics:
            lines += ["", "Validation decided (the gates, a sweep's objective); the test set was evaluated once."]
        lines += _by_split("Baselines", "baseline", self.val_baselines, self.baselines)
        lines += _copies(self.contamination)
        if self.figures:
            lines += ["", "## Figures", ""]
            lines += [f"- {gate}: ![{p}]({p})" for gate, paths in self.figures.items() for p in paths]
        if self.waivers:
            lines += ["", "## Waivers", ""] + [f"- {w['stage']}/{w['gate']}: {w['message']}" for w in self.waivers]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _failures(failures: list[dict[str, Any]]) -> list[str]:
    """Every failure at once, first the one the run halted at; a finding is a model probe that ran after a
    data gate halted the run (it did not halt it)."""
    if len(failures) < 2 and not any(f["finding"] for f in failures):
        return []  # one failure: the halt line and the table say it all
    lines = ["", "## Failures", "", f"{len(failures)} gates failed:", ""]
    for f in failures:
        kind = "halted the run" if f["halted"] else "a finding beside the halt" if f["finding"] else "failed"
        lines.append(f"- `{f['stage']}/{f['gate']}` ({kind}): {str(f['message']).replace(chr(10), ' ')}")
    return lines


def _by_split(title: str, what: str, val: dict[str, Any], test: dict[str, Any]) -> list[str]:
    """A table of `what` by split: validation (what decided) beside test (measured once, at the end)."""
    if not val and not test:
        return []
    lines = ["", f"## {title}", "", f"| {what} | validation | test |", "|---|---|---|"]
    return lines + [f"| {k} | {val.get(k, '')} | {test.get(k, '')} |" for k in dict.fromkeys([*val, *test])]


def _copies(found: Optional[CopyMetrics]) -> list[str]:
    """The test headline with and without the test items that have a copy in the training set."""
    if found is None:
        return []
    rows = [("all", found.items, found.all), ("without a training copy", found.clean_items, found.clean)]
    rows.append(("with a training copy", found.copied_items, found.copies))
    lines = ["", "## Test items with a training copy (contamination)", "", f"| test items | count | {found.headline} |"]
    return lines + ["|---|---|---|"] + [f"| {name} | {n} | {value:.4f} |" for name, n, value in rows]


def _inconclusive(stages: list[dict[str, Any]]) -> list[str]:
    """The gates that passed without deciding (out of their time budget): a pass to look at, not to trust."""
    found = [f"`{s['name']}/{g['name']}`" for s in stages for g in s["gates"] if g.get("inconclusive")]
    if not found:
        return []
    return [
        "",
        f"Inconclusive (passed without deciding, out of their time budget): {', '.join(found)}. Their "
        "messages say what they would need <gates.budget_steps>.",
    ]


def _cost_lines(cost: dict[str, Any]) -> list[str]:
    """The cost section: the plain step, the budget, and what each budgeted gate and evaluation took."""
    if not cost:
        return []
    lines = ["", "## Cost", "", "| what | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in cost.items() if k != "gates"]
    for name, used in cost.get("gates", {}).items():
        lines.append(f"| {name} (plain steps used of allowed) | {used['used_steps']} of {used['allowed_steps']} |")
    return lines
