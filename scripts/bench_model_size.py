"""What saneloop costs in time and memory as the model grows: the hf_gpt2 example's GPT-2 at growing sizes.

    python scripts/bench_model_size.py [--sizes 64x2 128x2 256x4 384x6] [--device cpu|cuda] [--precision no|fp16]
        [--tree after=. --tree before=/path/to/checkout] [--timeout 1800] [--out docs/bench/model_size.json]

A size is WIDTHxLAYERS (n_embd x n_layer; heads width/64, at least 4), at the example's learning rate scaled as
1/width (3e-3 at 64). Per size, fresh processes, one after another:
- plain: a hand-written loop, the same GPT-2, lines, collator, AdamW and batch (32): the median step (wall and
  CPU time) over `--steps` after `--warmup`; peak memory (RSS, os.wait4; on CUDA max_memory_allocated);
- each tree: `python -m saneloop +recipe=hf_gpt2 --config-dir conf` at that size (capacity's wider model twice
  as wide), `train.max_steps=20`, every gate on (loss_decreases and beats_baselines waived: they run, a 20-step
  run does not halt on them): stage times from report.json, the stages before `train` in plain steps, the whole
  run's CPU time in plain steps' CPU time (steadier on a busy machine), peak memory (whole run, before `train`,
  the gates that raised it) over the plain loop's, and the report's `cost` fields when the tree writes them.
On CPU also the process's fixed cost (bench_process.fixed_costs). JSON to `--out`, the table beside it (.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_process import CUDA_PEAK_RUN, child_env, fixed_costs, read_report, spawn, verdict_times  # noqa: E402

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


def run_plain(size: str, args: argparse.Namespace) -> dict:
    argv = [sys.executable, __file__, "--plain", size, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    argv += ["--device", args.device, "--precision", args.precision]
    done = spawn(argv, REPO, child_env(REPO), args.timeout)
    row = {k: v for k, v in done.items() if k != "lines"}
    results = [line for _, line, _ in done["lines"] if line.startswith("{")]
    row.update(json.loads(results[-1]) if results else {"log_tail": [line for _, line, _ in done["lines"][-20:]]})
    return row


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
        launch = [str(CUDA_PEAK_RUN)] if args.device == "cuda" else ["-m", "saneloop"]
        argv = [sys.executable, *launch, *saneloop_overrides(size, args.device, args.precision)]
        done = spawn([*argv, f"hydra.run.dir={run_dir}/run"], tree / EXAMPLE, env, args.timeout)
        report_path = Path(run_dir) / "run" / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        peak = json.loads(peak_file.read_text()) if peak_file.is_file() else {}
    row = {k: v for k, v in done.items() if k != "lines"} | peak
    row |= read_report(report) if report else {}
    if not report or done["exit_code"] not in (0, 3):  # no report, or a crash: what the console said last
        row["log_tail"] = [line for _, line, _ in done["lines"][-20:]]
    return row | verdict_times(done["lines"])


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
        # CPU time (one thread, from process start: imports included) in a plain step's CPU time: load-proof
        "before_train_cpu_plain_steps": _ratio(run.get("before_train_cpu_s"), cpu_step_s),
        "run_cpu_plain_steps": _ratio(run.get("cpu_s"), cpu_step_s),
        "peak_vs_plain": round(run[key] / plain[key], 2) if run.get(key) and plain.get(key) else None,
        "peak_before_train_vs_plain": round(before_peak / plain[key], 2) if before_peak and plain.get(key) else None,
    }


def markdown(rows: list[dict], device: str) -> str:
    """The table for docs/performance.md: one line per size and tree."""
    memory = "peak allocated MB" if device == "cuda" else "peak RSS MB"
    lines = [
        f"| GPT-2 size | params | lr | tree | plain step | stages before `train` | in plain steps | in plain steps, "
        "CPU time: before `train` (whole run) | capacity s | "
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
                f"{_num(run.get('before_train_plain_steps'), 0)} | {_num(run.get('before_train_cpu_plain_steps'), 0)} "
                f"({_num(run.get('run_cpu_plain_steps'), 0)}) | "
                f"{_num(stages.get('capacity'), 1)} | "
                f"{_num(stages.get('train'), 1)} (plain {_num(_plain_train_s(plain), 1)}) | "
                f"{_num(stages.get('evaluate'), 1)} | {memory_cell} | {_cost(run.get('cost'))} | {_status(run)} |"
            )
    return "\n".join(lines)


def _ratio(value, unit: float):
    return round(value / unit) if value and unit else None


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
    fixed = fixed_costs(args.trees, args.timeout) if args.device == "cpu" else None
    result = {"machine": machine(args), "fixed_rss_mb": fixed}
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
