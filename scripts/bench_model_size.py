"""What saneloop costs in time and memory as the model grows: the hf_gpt2 example's GPT-2 at growing sizes.

    python scripts/bench_model_size.py [--sizes 64x2 128x2 256x4 384x6] [--device cpu|cuda]
        [--precision no|fp16|bf16] [--tree after=. --tree before=/path/to/checkout] [--timeout 1800]
        [--out docs/bench/model_size.json]

A size is WIDTHxLAYERS (GPT-2's n_embd x n_layer; heads: width/64, at least 4). The learning rate is
the example's 3e-3 at width 64 scaled as 1/width (the rate the example's recipe comment gives). Per size,
fresh processes, one after another (plain, then each tree):

- plain: a hand-written loop over the same GPT-2 (transformers, built from its config), the example's
  lines of Tiny Shakespeare and collator (DataCollatorForLanguageModeling), AdamW (the example's weight
  decay) and batch of 32: the median step over `--steps` steps after `--warmup`, and the process's peak
  memory (RSS via os.wait4 on CPU; torch.cuda.max_memory_allocated on CUDA);
- saneloop: `python -m saneloop +recipe=hf_gpt2 --config-dir conf` in the tree's examples/hf_gpt2 with
  that size (`gates.capacity.wider` twice the width), `train.max_steps=20`, every gate on (the two that
  judge a full run, loss_decreases and beats_baselines, waived: they still run, a 20-step run does not
  halt on them): stage and gate times from report.json, the stages before `train` in plain steps, peak
  memory and its ratio to the plain loop's, and the report's `cost` fields when the tree writes them.

Also, on CPU, the process's fixed cost: the RSS of a process that has only imported torch and transformers'
GPT-2, and of one that has imported saneloop (all its modules) besides. Writes the JSON to `--out` and the
markdown table beside it (`.md`). Single thread (OMP_NUM_THREADS=1), as ../shared/BENCHMARKING.md says.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import PRE_TRAIN, VERDICT  # noqa: E402  (scripts/ is no package)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = Path("examples") / "hf_gpt2"
SEED, BATCH, WEIGHT_DECAY, TRAIN_STEPS = 0, 32, 0.01, 20
BASE_LR, BASE_WIDTH = 3e-3, 64  # the example's rate at its width; lr ~ 1/width
WAIVE = "model-size bench: 20 training steps"
MB = 1024 * 1024


def parse_size(text: str) -> tuple[int, int]:
    """'256x4' -> (256, 4): GPT-2's n_embd and n_layer."""
    width, _, layers = text.lower().partition("x")
    return int(width), int(layers)


def heads(width: int) -> int:
    return max(4, width // 64)


def lr_for(width: int) -> float:
    return BASE_LR * BASE_WIDTH / width


def gpt2(width: int, layers: int, vocab_size: int):
    """The example's model (conf/model/tiny_gpt2.yaml) at this size, freshly initialised."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=64,
        n_embd=width,
        n_layer=layers,
        n_head=heads(width),
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        loss_type="ForCausalLM",
    )
    return GPT2LMHeadModel(config)


def plain_loader():
    """The example's training lines and collator, shuffled, batch 32 (the whole training split: saneloop
    carves its validation set from it, which changes which lines, not what a step costs)."""
    import torch
    from transformers import DataCollatorForLanguageModeling

    sys.path.insert(0, str(REPO / EXAMPLE))
    from lm_lines import CHARS, play_lines, tokenizer

    train, _ = play_lines(max_chars=64, test_fraction=0.1, vocab=CHARS)
    collate = DataCollatorForLanguageModeling(tokenizer=tokenizer(CHARS), mlm=False)
    generator = torch.Generator().manual_seed(SEED)
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True, collate_fn=collate, generator=generator)
    return loader, len(CHARS)


def plain_loop(size: str, steps: int = 20, warmup: int = 3, device: str = "cpu", precision: str = "no") -> dict:
    """A hand-written training loop at `size`: the median step (ms), the parameters and the peak memory."""
    import torch

    torch.manual_seed(SEED)
    loader, vocab_size = plain_loader()
    width, layers = parse_size(size)
    model = gpt2(width, layers, vocab_size).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr_for(width), weight_decay=WEIGHT_DECAY)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    scaler = torch.amp.GradScaler(device, enabled=precision == "fp16")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, cpu_times, losses, batches = [], [], [], _forever(loader)
    for _ in range(warmup + steps):
        batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
        start, cpu_start = _synced(device), time.process_time()
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        times.append(_synced(device) - start)
        cpu_times.append(time.process_time() - cpu_start)
        losses.append(loss.item())
    return {
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
        "step_ms": round(statistics.median(times[warmup:]) * 1000, 2),
        "step_cpu_ms": round(statistics.median(cpu_times[warmup:]) * 1000, 2),  # steadier on a busy machine
        "steps": steps,
        "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
        "peak_alloc_mb": round(torch.cuda.max_memory_allocated() / MB, 1) if device == "cuda" else None,
    }


def _forever(loader):
    while True:
        yield from loader


def _synced(device: str) -> float:
    """The clock once the device has finished what was queued on it (data loading is not timed)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter()


def spawn(argv: list[str], cwd: Path, env: dict, timeout: float) -> dict:
    """A fresh process: its stdout lines (time, text, peak RSS so far), exit code, wall time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[tuple[float, str, float | None]] = []
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
    """Each line with its time and, for a verdict line, the process's peak RSS so far (VmHWM): which gate
    raised the peak, and the peak before `train`."""
    for line in proc.stdout:  # type: ignore[union-attr]
        is_verdict = line.split()[:1] and line.split()[0] in VERDICT
        lines.append((time.perf_counter() - start, line.rstrip(), _hwm_mb(proc.pid) if is_verdict else None))


def _hwm_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return round(int(kb[0]) / 1024, 1) if kb else None


def child_env(tree: Path) -> dict:
    base = {"PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    return {**os.environ, **base}


def run_plain(size: str, args: argparse.Namespace) -> dict:
    argv = [sys.executable, __file__, "--plain", size, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    argv += ["--device", args.device, "--precision", args.precision]
    done = spawn(argv, REPO, child_env(REPO), args.timeout)
    row = {k: v for k, v in done.items() if k != "lines"}
    results = [line for _, line, _ in done["lines"] if line.startswith("{")]
    row.update(json.loads(results[-1]) if results else {"log_tail": [line for _, line, _ in done["lines"][-20:]]})
    return row


# On CUDA the run's process reports its own peak allocation when it exits (nothing outside it can read it).
CUDA_PEAK = """import atexit, json, os, runpy, sys
def _peak():
    import torch
    if torch.cuda.is_available():
        peak = {"peak_alloc_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
        open(os.environ["BENCH_PEAK_FILE"], "w").write(json.dumps(peak))
atexit.register(_peak)
sys.argv = ["saneloop", *sys.argv[1:]]
runpy.run_module("saneloop", run_name="__main__", alter_sys=True)
"""


def saneloop_overrides(size: str, device: str, precision: str) -> list[str]:
    width, layers = parse_size(size)
    return [
        "+recipe=hf_gpt2",
        "--config-dir",
        "conf",
        f"model.n_embd={width}",
        f"model.n_layer={layers}",
        f"model.n_head={heads(width)}",
        f"optim.lr={lr_for(width):.6g}",
        f"gates.capacity.wider={{model.n_embd:{2 * width}}}",  # tip 9's "twice as wide" at every size
        f"train.max_steps={TRAIN_STEPS}",
        f"gates.loss_decreases.waive='{WAIVE}'",
        f"gates.beats_baselines.waive='{WAIVE}'",
        f"accelerator.cpu={str(device == 'cpu').lower()}",
        f"accelerator.mixed_precision={precision}",
        "output.progress=false",
        "output.save_weights=false",
    ]


def run_saneloop(tree: Path, size: str, args: argparse.Namespace) -> dict:
    """One fresh `python -m saneloop` run of the example at `size` in `tree`, read back from its report."""
    with tempfile.TemporaryDirectory() as run_dir:
        peak_file = Path(run_dir) / "peak.json"
        env = {**child_env(tree), "BENCH_PEAK_FILE": str(peak_file)}
        launch = ["-c", CUDA_PEAK] if args.device == "cuda" else ["-m", "saneloop"]
        argv = [sys.executable, *launch, *saneloop_overrides(size, args.device, args.precision)]
        done = spawn([*argv, f"hydra.run.dir={run_dir}/run"], tree / EXAMPLE, env, args.timeout)
        report_path = Path(run_dir) / "run" / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        peak = json.loads(peak_file.read_text()) if peak_file.is_file() else {}
    row = {k: v for k, v in done.items() if k != "lines"} | peak
    row |= read_report(report) if report else {"log_tail": [line for _, line, _ in done["lines"][-20:]]}
    return row | verdict_times(done["lines"])


def verdict_times(lines: list[tuple[float, str, float | None]]) -> dict:
    """From the console: the last verdict, when the stages before `train` ended (from process start, imports
    included), the peak RSS then, and the gates that raised the peak by more than 20 MB (the first verdict's
    figure is the process up to it: imports, data, model and the setup gates before it)."""
    verdicts = [(t, line.split()[1].rstrip(":"), hwm) for t, line, hwm in lines if hwm is not None]
    pre = [(t, hwm) for t, where, hwm in verdicts if where.split("/")[0] in PRE_TRAIN]
    raised, last = {}, 0.0
    for _, where, hwm in verdicts:
        if hwm - last > 20:
            raised[where] = hwm
        last = max(last, hwm)
    return {
        "last_verdict": verdicts[-1][1] if verdicts else None,
        "before_train_wall_s": round(pre[-1][0], 2) if pre else None,
        "peak_rss_before_train_mb": pre[-1][1] if pre else None,
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


def fixed_costs(args: argparse.Namespace) -> dict:
    """The peak RSS of a process that only imports (CPU): what of every run's memory is the process."""
    gpt2_imports = "import torch; from transformers import GPT2LMHeadModel, DataCollatorForLanguageModeling"
    every_module = (
        "import importlib, pkgutil, saneloop; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(saneloop.__path__, 'saneloop.') "
        "if not m.name.endswith('__main__')]"
    )
    codes = {"torch_transformers": gpt2_imports, "saneloop": f"{gpt2_imports}; {every_module}"}
    trees = {name: Path(path).resolve() for name, path in args.trees.items()}
    out = {}
    for label, code in codes.items():
        for name, tree in trees.items() if label == "saneloop" else [("", REPO)]:
            done = spawn([sys.executable, "-c", code], REPO, child_env(tree), args.timeout)
            key = f"{label}_{name}" if name else label
            out[key] = done["peak_rss_mb"] if done["exit_code"] == 0 else {"failed": done["lines"][-5:]}
    return out


def bench_size(size: str, args: argparse.Namespace) -> dict:
    """The plain loop, then each tree's run, at one size (fresh processes, one after another)."""
    width, layers = parse_size(size)
    row = {"size": size, "width": width, "layers": layers, "heads": heads(width), "lr": float(f"{lr_for(width):.6g}")}
    row["load_before"] = os.getloadavg()[0]
    row["plain"] = plain = run_plain(size, args)
    row["runs"] = {}
    for name, path in args.trees.items():
        run = run_saneloop(Path(path).resolve(), size, args)
        row["runs"][name] = run | derived(run, plain, args.device)
        print(json.dumps({"size": size, "tree": name, **row["runs"][name]}), flush=True)
    row["load_after"] = os.getloadavg()[0]
    return row


def derived(run: dict, plain: dict, device: str) -> dict:
    """The run against the plain loop: time before `train` in plain steps, peak memory over the plain peak."""
    key = "peak_alloc_mb" if device == "cuda" else "peak_rss_mb"
    step_s = (plain.get("step_ms") or 0) / 1000
    before, cpu_step_s = run.get("before_train_s"), (plain.get("step_cpu_ms") or 0) / 1000
    before_peak = run.get("peak_rss_before_train_mb") if device == "cpu" else None
    return {
        "before_train_plain_steps": round(before / step_s) if before and step_s else None,
        # the whole process's CPU time (one thread, imports to exit) in CPU time of a plain step: load-proof
        "run_cpu_plain_steps": round(run["cpu_s"] / cpu_step_s) if run.get("cpu_s") and cpu_step_s else None,
        "peak_vs_plain": round(run[key] / plain[key], 2) if run.get(key) and plain.get(key) else None,
        "peak_before_train_vs_plain": round(before_peak / plain[key], 2) if before_peak and plain.get(key) else None,
    }


def markdown(rows: list[dict], device: str) -> str:
    """The table for docs/performance.md: one line per size and tree."""
    memory = "peak allocated MB" if device == "cuda" else "peak RSS MB"
    lines = [
        f"| GPT-2 size | params | lr | tree | plain step | stages before `train` | in plain steps | whole run, CPU "
        "in plain steps' CPU | capacity s | "
        f"train s ({TRAIN_STEPS} steps) | evaluate s | {memory}: plain; saneloop whole run | saneloop before `train` | "
        "run's own cost | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    key = "peak_alloc_mb" if device == "cuda" else "peak_rss_mb"
    for row in rows:
        plain = row["plain"]
        for name, run in row["runs"].items():
            stages = run.get("stages_s") or {}
            memory_cell = (
                f"{_num(plain.get(key), 0)}; {_num(run.get(key), 0)} = {_num(run.get('peak_vs_plain'), 2)}x | "
                f"{_num(run.get('peak_rss_before_train_mb'), 0)} = {_num(run.get('peak_before_train_vs_plain'), 2)}x"
            )
            lines.append(
                f"| {row['width']} wide x {row['layers']} layers | {_num(plain.get('params_m'), 2)} M | "
                f"{row['lr']:.3g} | {name} | {_num(plain.get('step_ms'), 1)} ms | "
                f"{_num(run.get('before_train_s'), 1)} s | "
                f"{_num(run.get('before_train_plain_steps'), 0)} | {_num(run.get('run_cpu_plain_steps'), 0)} | "
                f"{_num(stages.get('capacity'), 1)} | "
                f"{_num(stages.get('train'), 1)} (plain {_num(_plain_train_s(plain), 1)}) | "
                f"{_num(stages.get('evaluate'), 1)} | {memory_cell} | {_cost(run.get('cost'))} | {_status(run)} |"
            )
    return "\n".join(lines)


def _plain_train_s(plain: dict):
    return plain["step_ms"] * TRAIN_STEPS / 1000 if plain.get("step_ms") else None


def _num(value, digits: int) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else "-"


def _cost(cost) -> str:
    """The run's own measured plain step and budget, when its report has them (a newer tree writes `cost`)."""
    if not isinstance(cost, dict):
        return "-"
    shown = [f"{k} {_num(v, 3) if isinstance(v, float) else v}" for k, v in cost.items() if isinstance(v, (int, float))]
    return ", ".join(shown[:4]) or "-"


def _status(run: dict) -> str:
    if run.get("timed_out"):
        return f"stopped at the time limit (last: {run.get('last_verdict')})"
    halted = run.get("halted_at")
    where = f" at {halted['stage']}/{halted['gate']}" if halted else ""
    return f"{run.get('status', 'exit ' + str(run.get('exit_code')))}{where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["64x2", "128x2", "256x4", "384x6"])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--steps", type=int, default=20, help="timed steps of the plain loop")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tree", action="append", default=None, help="NAME=PATH of a saneloop checkout")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per process")
    parser.add_argument("--out", type=Path, default=Path("bench_model_size.json"))
    parser.add_argument("--plain", metavar="SIZE", help=argparse.SUPPRESS)  # the plain loop's own process
    args = parser.parse_args()
    if args.plain:
        print(json.dumps(plain_loop(args.plain, args.steps, args.warmup, args.device, args.precision)))
        return
    args.trees = dict(t.split("=", 1) for t in (args.tree or [f"after={REPO}"]))
    result = {"machine": machine(args), "fixed_rss_mb": fixed_costs(args) if args.device == "cpu" else None}
    result["sizes"] = []
    for size in args.sizes:  # written after each size: a bench cut short by a time limit keeps what it measured
        result["sizes"].append(bench_size(size, args))
        table = markdown(result["sizes"], args.device)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(table + "\n")
    print(json.dumps(result["fixed_rss_mb"]))
    print(table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


def machine(args: argparse.Namespace) -> dict:
    import torch

    return {
        "device": args.device,
        "precision": args.precision,
        "cuda": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "trees": args.trees,
        "train_steps": TRAIN_STEPS,
        "batch": BATCH,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


if __name__ == "__main__":
    main()
