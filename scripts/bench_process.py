"""How a bench measures a fresh process: its console lines with their times and the peak memory at each gate's
verdict (which gate raised it), its CPU time and peak RSS (os.wait4), the report it wrote, and what a process
costs before it does anything (imports). Standard library only: the plain loop's process imports none of saneloop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PRE_TRAIN = ("setup", "sanity", "baselines", "overfit", "capacity")  # the stages before `train`
VERDICT = ("PASS", "FAIL", "WAIVED", "skip")  # how a gate's console line starts

REPO = Path(__file__).resolve().parent.parent


def spawn(argv: list[str], cwd: Path, env: dict, timeout: float) -> dict:
    """A fresh process: its stdout lines (time, text, at a verdict its peak RSS and CPU time so far), exit code,
    wall time, CPU time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[tuple[float, str, dict | None]] = []
    reader = threading.Thread(target=_read, args=(proc, start, lines), daemon=True)
    reader.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    wall = time.perf_counter() - start
    return {
        "lines": lines,
        "exit_code": proc.returncode,
        "timed_out": wall >= timeout,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # the process's own CPU time (its waited children too)
    }


def _read(proc: subprocess.Popen, start: float, lines: list) -> None:
    """Each line with its time and, for a verdict line, the process's peak RSS (VmHWM) and CPU time so far:
    which gate raised the peak, the peak and the CPU time when the stages before `train` ended."""
    for line in proc.stdout:  # type: ignore[union-attr]
        is_verdict = line.split()[:1] and line.split()[0] in VERDICT
        lines.append((time.perf_counter() - start, line.rstrip(), _probe(proc.pid) if is_verdict else None))


def _probe(pid: int) -> dict | None:
    """The process's peak RSS (MB) and CPU time (s, user + system) so far, from /proc (Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    kb = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15
    return {"hwm_mb": round(int(kb[0]) / 1024, 1) if kb else 0.0, "cpu_s": round(cpu, 2)}


def child_env(tree: Path) -> dict:
    base = {"PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    return {**os.environ, **base}


# On CUDA the run's process reports its own peak allocation when it exits (nothing outside it can read it).
CUDA_PEAK_RUN = Path(__file__).resolve().parent / "cuda_peak_run.py"


def verdict_times(lines: list[tuple[float, str, dict | None]]) -> dict:
    """From the console: the last verdict; when the stages before `train` ended (wall and CPU time from process
    start, imports included) and the peak RSS then; the gates that raised the peak by more than 20 MB (the first
    verdict's figure is the process up to it: imports, data, model and the setup gates before it)."""
    verdicts = [(t, line.split()[1].rstrip(":"), probe) for t, line, probe in lines if probe is not None]
    pre = [(t, probe) for t, where, probe in verdicts if where.split("/")[0] in PRE_TRAIN]
    raised, last = {}, 0.0
    for _, where, probe in verdicts:
        if probe["hwm_mb"] - last > 20:
            raised[where] = probe["hwm_mb"]
        last = max(last, probe["hwm_mb"])
    return {
        "last_verdict": verdicts[-1][1] if verdicts else None,
        "before_train_wall_s": round(pre[-1][0], 2) if pre else None,
        "before_train_cpu_s": pre[-1][1]["cpu_s"] if pre else None,
        "peak_rss_before_train_mb": pre[-1][1]["hwm_mb"] if pre else None,
        "peak_raised_by": raised,
    }


def read_report(report: dict) -> dict:
    """Stage times, the costliest gates before `train`, the verdicts and the run's own `cost` fields."""
    stages = {s["name"]: s["seconds"] for s in report["stages"]}
    gates = {
        f"{s['name']}/{g['name']}": g["seconds"]
        for s in report["stages"]
        for g in s["gates"]
        if g.get("seconds") is not None
    }
    before = [stages[name] for name in PRE_TRAIN if stages.get(name) is not None]
    return {
        "status": report["status"],
        "halted_at": report["halted_at"],
        "error": report.get("error"),
        "stages_s": stages,
        "before_train_s": round(sum(before), 2) if len(before) == len(PRE_TRAIN) else None,
        "gates_s": dict(sorted(gates.items(), key=lambda kv: -kv[1])[:8]),
        "not_passed": [
            f"{s['name']}/{g['name']}: {g['status']}"
            for s in report["stages"]
            for g in s["gates"]
            if g["status"] not in ("passed", "skipped")
        ],
        "cost": report.get("cost"),
    }


def fixed_costs(trees: dict[str, str], timeout: float) -> dict:
    """The peak RSS of a process that only imports (CPU): what of every run's memory is the process."""
    gpt2_imports = "import torch; from transformers import GPT2LMHeadModel, DataCollatorForLanguageModeling"
    every_module = (
        "import importlib, pkgutil, saneloop; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(saneloop.__path__, 'saneloop.') "
        "if not m.name.endswith('__main__')]"
    )
    codes = {"torch_transformers": gpt2_imports, "saneloop": f"{gpt2_imports}; {every_module}"}
    trees = {name: Path(path).resolve() for name, path in trees.items()}
    out = {}
    for label, code in codes.items():
        for name, tree in trees.items() if label == "saneloop" else [("", REPO)]:
            done = spawn([sys.executable, "-c", code], REPO, child_env(tree), timeout)
            key = f"{label}_{name}" if name else label
            out[key] = done["peak_rss_mb"] if done["exit_code"] == 0 else {"failed": done["lines"][-5:]}
    return out
