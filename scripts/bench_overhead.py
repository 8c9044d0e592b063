"""Overhead of saneloop's `train` stage against a plain PyTorch loop and a raw Accelerate loop.

    python scripts/bench_overhead.py [--rounds 7] [--steps 1000] [--out bench_overhead.json]

In one process, interleaved and repeated: each round times the same optimizer steps, on the same
data, from the same init, by (a) a plain loop, (b) the plain loop fed as saneloop feeds in-memory
tensors (each batch gathered with one index per tensor, not stacked item by item), (c) a raw
Accelerate loop, (d) saneloop's `train` stage with its normal logging, progress bar and checkpoint
cadence. Medians over rounds (the first round is warm-up and dropped), ratios to the plain loop,
saneloop's ratio to (b) (the framework's own cost, like for like), and the final loss of each
implementation (they must agree, bit for bit). Single thread, as in ../shared/BENCHMARKING.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# glibc's allocator can flip a conv workload between a fast and a slow mode depending on what ran
# before; fixed thresholds remove that (BENCHMARKING.md). They must be set before the process starts.
_MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SEED, BATCH, LR, WD = 0, 64, 1e-3, 0.01
# Wall time by default. On a machine other work is using, `--clock cpu` (this process's CPU time, all
# its threads) is steadier: time spent waiting for a core does not count.
CLOCK = time.perf_counter
DEVICE = "cpu"  # --device cuda: the same loops on the GPU (scripts/gpu_check.sh)


def synced() -> float:
    """The clock, once the device has finished the work queued on it."""
    if DEVICE != "cpu":
        torch.cuda.synchronize()
    return CLOCK()


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


WORKLOADS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {"mlp": (mlp, (64,)), "cnn": (cnn, (1, 28, 28))}


def dataset(shape: tuple[int, ...], n: int = 4096) -> TensorDataset:
    gen = torch.Generator().manual_seed(123)
    x = torch.randn(n, *shape, generator=gen)
    teacher = torch.randn(x[0].numel(), 10, generator=gen)  # learnable labels: the loss gate passes
    y = (x.reshape(n, -1) @ teacher).argmax(1)
    return TensorDataset(x, y)


def loader(data: TensorDataset) -> DataLoader:
    return DataLoader(data, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))


def gathered_loader(data: TensorDataset) -> DataLoader:
    """The same batches, each gathered with one index per tensor (saneloop's path for in-memory tensors)."""
    from saneloop.data.tensor_batches import TensorBatches

    generator = torch.Generator().manual_seed(SEED)
    return DataLoader(
        TensorBatches(data, False), batch_size=BATCH, shuffle=True, generator=generator, collate_fn=_tensors
    )


def _tensors(gathered):
    return gathered.tensors


def fresh(make: Callable[[], nn.Module], init: dict) -> nn.Module:
    model = make()
    model.load_state_dict(init)
    return model


def run_plain(make, init, data, steps, make_loader=loader) -> tuple[float, float]:
    model = fresh(make, init).to(DEVICE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    loss_fn = nn.CrossEntropyLoss()
    start, step = synced(), 0
    train_loader = make_loader(data)
    while step < steps:
        for x, y in train_loader:
            if DEVICE != "cpu":
                x, y = x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            step += 1
            if step == steps:
                break
    return synced() - start, loss.item()


def run_accelerate(make, init, data, steps) -> tuple[float, float]:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=DEVICE == "cpu")
    model = fresh(make, init)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    loss_fn = nn.CrossEntropyLoss()
    start, step = synced(), 0
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, loader(data))
    while step < steps:
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            accelerator.backward(loss)
            optimizer.step()
            step += 1
            if step == steps:
                break
    elapsed = synced() - start
    accelerator.free_memory()
    return elapsed, loss.item()


def run_saneloop(make, init, data, steps) -> tuple[float, float]:
    """saneloop's train stage as the pipeline runs it: TensorBoard, progress bar, checkpoints on.

    The end-of-train checkpoint is written to disk in the background while the pipeline goes on to
    `evaluate`; here nothing follows, so its write is waited for and timed apart (TAILS)."""
    from bench_support import saneloop_train_context

    from saneloop.record.atomic import wait_for_writes
    from saneloop.stages import train

    with tempfile.TemporaryDirectory() as run_dir:
        # the bar is on, as in a user's run (it draws to stderr)
        model = fresh(make, init)
        ctx, built = saneloop_train_context(model, data, steps, Path(run_dir), SEED, LR, WD, BATCH, cpu=DEVICE == "cpu")
        start = synced()
        trained = train.run(ctx, built)
        elapsed = synced() - start
        wait_for_writes()
        TAILS.append(CLOCK() - start - elapsed)
        ctx.record.close()
        return elapsed, float(trained.losses[-1])


TAILS: list[float] = []  # seconds the end-of-train checkpoint took to reach the disk after train.run returned


def run_plain_gathered(make, init, data, steps) -> tuple[float, float]:
    """The plain loop fed as saneloop feeds in-memory tensors: the like-for-like baseline."""
    return run_plain(make, init, data, steps, gathered_loader)


IMPLEMENTATIONS = {
    "plain": run_plain,
    "plain_gathered": run_plain_gathered,
    "accelerate": run_accelerate,
    "saneloop": run_saneloop,
}


def bench(workload: str, rounds: int, steps: int) -> dict:
    make, shape = WORKLOADS[workload]
    torch.manual_seed(SEED)
    init = make().state_dict()
    data = dataset(shape)
    times: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
    final: dict[str, float] = {}
    names = list(IMPLEMENTATIONS)
    for r in range(rounds + 1):  # round 0 is warm-up
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            elapsed, loss = IMPLEMENTATIONS[name](make, init, data, steps)
            final[name] = loss
            if r > 0:
                times[name].append(elapsed / steps * 1e3)
    med = {name: statistics.median(t) for name, t in times.items()}
    tail = statistics.median(TAILS[-rounds:]) if TAILS else 0.0
    return {
        "checkpoint_tail_ms": tail * 1e3,
        "saneloop_with_tail_vs_plain_gathered": (med["saneloop"] + tail / steps * 1e3) / med["plain_gathered"],
        "workload": workload,
        "steps": steps,
        "rounds": rounds,
        "ms_per_step": med,
        "ratio_to_plain": {name: med[name] / med["plain"] for name in med},
        # the framework's own cost: saneloop against a plain loop fed the same gathered batches
        "saneloop_vs_plain_gathered": med["saneloop"] / med["plain_gathered"],
        "final_loss": final,
        "same_final_loss": len(set(final.values())) == 1,
    }


def main() -> None:
    if any(os.environ.get(k) != v for k, v in _MALLOC.items()):  # re-run this script with them set
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **_MALLOC})
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS))
    parser.add_argument("--out", type=Path, default=Path("bench_overhead.json"))
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    global CLOCK, DEVICE
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    DEVICE = args.device
    torch.set_num_threads(1)
    results = [bench(w, args.rounds, args.steps) for w in args.workloads]
    for r in results:
        ratios = "  ".join(f"{k} {v:.3f}x" for k, v in r["ratio_to_plain"].items())
        print(
            f"{r['workload']:>4}: plain {r['ms_per_step']['plain']:.3f} ms/step | {ratios} | saneloop / "
            f"plain_gathered {r['saneloop_vs_plain_gathered']:.3f}x | same final loss: {r['same_final_loss']} "
            f"{r['final_loss']} | end-of-train checkpoint on disk {r['checkpoint_tail_ms']:.1f} ms after "
            f"train.run returned (with it: {r['saneloop_with_tail_vs_plain_gathered']:.3f}x)"
        )
    for r in results:
        r["clock"], r["device"] = args.clock, args.device
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
