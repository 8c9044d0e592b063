#!/usr/bin/env bash
# The GPU check of issue 15, for a machine with one or more CUDA GPUs (none has run it yet on CPU-only
# CI: see docs/performance.md). From the repository root:
#
#   OUT=gpu_out scripts/gpu_check.sh          # PYTHON=... picks the interpreter (default: python)
#
# It runs, each with a time limit, and writes every result to ONE file, $OUT/gpu_check.json:
#   - the four recipes on one GPU, in fp32 and in bf16 (charlm on the bug bench's 250-step budget);
#   - classify and charlm with train.compile=true (fp32);
#   - classify under `accelerate launch` with 2 processes, when there are 2 GPUs;
#   - the train-stage overhead bench on the GPU (scripts/bench_overhead.py --device cuda);
#   - classify and the hf_gpt2 example in fp16 (a gradient scaler: each row's `train` has its skipped steps and
#     final loss scale), and the CUDA-marked tests of fp16, determinism and pinned memory, issue 21;
#   - the model-size bench on the GPU (scripts/bench_model_size.py --device cuda, $OUT/model_size.json and .md;
#     MODEL_SIZES picks the sizes, default 64x2 256x4 512x8, about 5 minutes in all), issue 21.
# Every single-GPU saneloop run records its peak allocated CUDA memory (peak_alloc_mb in its row).
# Needs: torch with CUDA, saneloop's dependencies (pip install -e .), scikit-learn's bundled data.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/gpu_check_out}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"  # absolute: the hf_gpt2 run works from its own folder
PY="${PYTHON:-python}"
LIMIT="${LIMIT:-300}"  # seconds per run
mkdir -p "$OUT/runs" "$OUT/logs"
: > "$OUT/results.jsonl"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
QUIET=(output.progress=false output.save_weights=false)
CHARLM=(train.max_steps=250 gates.loss_decreases.max_ratio=0.9)  # as bench/suite.py's BUDGET

# record NAME EXIT_CODE MILLISECONDS RUN_DIR: one JSON line from the run's report.json (or its log's tail)
record() {
  "$PY" - "$@" "$OUT" <<'EOF' >> "$OUT/results.jsonl"
import json, sys
from pathlib import Path
name, code, ms, run_dir, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
row = {"name": name, "exit_code": code, "seconds": round(ms / 1000, 1)}
peak = run_dir / "peak.json"  # written by scripts/cuda_peak_run.py as the run's process exits
row.update(json.loads(peak.read_text()) if peak.is_file() else {})
report = run_dir / "report.json"
if report.is_file():
    r = json.loads(report.read_text())
    row.update(status=r["status"], halted_at=r["halted_at"], error=r["error"], headline=r["headline"],
               metric=r["metrics"].get(r["headline"]) if r["headline"] else None, notes=r["notes"],
               stages={s["name"]: s["seconds"] for s in r["stages"]}, train=r.get("train"))
else:
    row["log_tail"] = (out / "logs" / f"{name}.log").read_text()[-2000:]
print(json.dumps(row))
EOF
}

# run NAME COMMAND...: time one command under the limit, then record it
run() {
  local name="$1"; shift
  local start code
  start=$(date +%s%N)
  mkdir -p "$OUT/runs/$name"
  BENCH_PEAK_FILE="$OUT/runs/$name/peak.json" timeout "$LIMIT" "$@" > "$OUT/logs/$name.log" 2>&1
  code=$?
  record "$name" "$code" "$(( ($(date +%s%N) - start) / 1000000 ))" "$OUT/runs/$name"
  echo "$name: exit $code"
}

# SANELOOP: `python -m saneloop` on GPU 0 that writes torch.cuda.max_memory_allocated to $BENCH_PEAK_FILE as
# it exits (scripts/cuda_peak_run.py, as scripts/bench_model_size.py launches its runs on CUDA); `run` points it
# at the run's folder.
SANELOOP=(env CUDA_VISIBLE_DEVICES=0 "$PY" "$ROOT/scripts/cuda_peak_run.py")

GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
"$PY" - "$OUT/device.json" <<'EOF'
import json, sys, torch
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": torch.cuda.device_count(),
        "names": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "bf16": torch.cuda.is_available() and torch.cuda.is_bf16_supported()}
open(sys.argv[1], "w").write(json.dumps(info))
EOF
if [ "$GPUS" -lt 1 ]; then
  echo '{"device": '"$(cat "$OUT/device.json")"', "runs": [], "all_passed": false, "skipped": "no CUDA GPU"}' \
    > "$OUT/gpu_check.json"
  echo "no CUDA GPU here: nothing checked (wrote $OUT/gpu_check.json)" >&2
  exit 1
fi

for recipe in classify regress binary charlm; do
  extra=(seed=0)
  [ "$recipe" = charlm ] && extra+=("${CHARLM[@]}")
  for precision in no bf16; do
    name="$recipe-${precision/no/fp32}"
    run "$name" "${SANELOOP[@]}" "+recipe=$recipe" "accelerator.mixed_precision=$precision" "${QUIET[@]}" \
      "${extra[@]}" "hydra.run.dir=$OUT/runs/$name"
  done
done

run classify-compile "${SANELOOP[@]}" +recipe=classify train.compile=true "${QUIET[@]}" \
  "hydra.run.dir=$OUT/runs/classify-compile"
run charlm-compile "${SANELOOP[@]}" +recipe=charlm train.compile=true "${QUIET[@]}" "${CHARLM[@]}" \
  "hydra.run.dir=$OUT/runs/charlm-compile"

# fp16: autocast with a gradient scaler (issue 21); the example from its own folder, as its README line runs it
run classify-fp16 "${SANELOOP[@]}" +recipe=classify accelerator.mixed_precision=fp16 "${QUIET[@]}" \
  "hydra.run.dir=$OUT/runs/classify-fp16"
(cd "$ROOT/examples/hf_gpt2" && run hf_gpt2-fp16 "${SANELOOP[@]}" +recipe=hf_gpt2 --config-dir conf \
  accelerator.mixed_precision=fp16 "${QUIET[@]}" "hydra.run.dir=$OUT/runs/hf_gpt2-fp16")
# The CUDA-marked tests of issue 21 item 4: fp16's scaler guard on its planted bug, two deterministic runs
# bit-identical, pinned copies (their log's tail is the row)
(cd "$ROOT" && run gpu-tests env CUDA_VISIBLE_DEVICES=0 "$PY" -m pytest -q -p no:cacheprovider \
  tests/checks/test_loss_scale.py tests/data/test_seeding.py tests/data/test_pinning.py)

if [ "$GPUS" -ge 2 ]; then
  run classify-2proc "$PY" -m accelerate.commands.launch --multi_gpu --num_processes 2 --mixed_precision no \
    --dynamo_backend no -m saneloop +recipe=classify "${QUIET[@]}" "hydra.run.dir=$OUT/runs/classify-2proc"
fi

# bench NAME SECONDS JSON COMMAND...: a bench script under a time limit, the JSON it writes folded into one row
bench() {
  local name="$1" limit="$2" json="$3" log="$OUT/logs/$1.log"; shift 3
  local start code
  start=$(date +%s%N)
  timeout "$limit" "$@" > "$log" 2>&1
  code=$?
  "$PY" - "$name" "$code" "$(( ($(date +%s%N) - start) / 1000000 ))" "$json" "$log" <<'EOF' >> "$OUT/results.jsonl"
import json, sys
from pathlib import Path
name, code, ms, bench, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
row = {"name": name, "exit_code": code, "seconds": round(ms / 1000, 1)}
row.update(results=json.loads(bench.read_text())) if bench.is_file() else row.update(log_tail=log.read_text()[-2000:])
print(json.dumps(row))
EOF
  echo "$name: exit $code"
}

bench overhead-bench-cuda "$LIMIT" "$OUT/overhead.json" env CUDA_VISIBLE_DEVICES=0 "$PY" \
  "$ROOT/scripts/bench_overhead.py" --device cuda --rounds 5 --steps 1000 --out "$OUT/overhead.json"

# The model-size bench on the GPU: plain loop vs saneloop per size, peak allocated memory of each (issue 21)
read -r -a SIZES <<< "${MODEL_SIZES:-64x2 256x4 512x8}"
bench model-size-cuda "${MS_LIMIT:-600}" "$OUT/model_size.json" env CUDA_VISIBLE_DEVICES=0 \
  "$PY" "$ROOT/scripts/bench_model_size.py" --device cuda --sizes "${SIZES[@]}" --timeout 300 \
  --out "$OUT/model_size.json"

"$PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
summary = {"device": json.loads((out / "device.json").read_text()), "runs": rows,
           "all_passed": all(r["exit_code"] == 0 for r in rows)}
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"wrote {out / 'gpu_check.json'}: {sum(r['exit_code'] == 0 for r in rows)} of {len(rows)} ran clean")
EOF
