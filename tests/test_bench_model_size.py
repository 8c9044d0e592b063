"""The model-size bench (scripts/bench_model_size.py) measures what it says: its plain loop trains the example's
GPT-2 at the size asked, its saneloop overrides compose into that size with a capacity model twice as wide, and
its table puts the time before `train` in plain steps and the memory against the plain loop's."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_model_size as bench  # noqa: E402  (scripts/ is no package)


def test_the_plain_loop_trains_the_example_gpt2_at_the_size_asked():
    result = bench.plain_loop("64x2", steps=2, warmup=1)
    assert result["params_m"] == 0.108  # the example's tiny_gpt2: 2 layers, 64 wide, 66 characters
    assert result["step_ms"] > 0 and result["steps"] == 2
    first, last = result["loss_first_last"]
    assert 3.5 < first < 4.6  # about log 66 at init


def test_the_saneloop_run_is_the_example_at_that_size_with_the_rate_scaled():
    from saneloop.runner import compose_config

    overrides = [o for o in bench.saneloop_overrides("256x4", "cpu", "no") if o not in ("--config-dir", "conf")]
    cfg, _ = compose_config("hf_gpt2", overrides[1:], REPO / "examples" / "hf_gpt2" / "conf")
    assert (cfg.model.n_embd, cfg.model.n_layer, cfg.model.n_head) == (256, 4, 4)
    assert cfg.optim.lr == 7.5e-4  # 3e-3 at width 64, as 1/width
    assert dict(cfg.gates.capacity.wider) == {"model.n_embd": 512}  # twice as wide, not the recipe's 128
    assert cfg.train.max_steps == 20 and cfg.gates.loss_decreases.waive


def test_the_table_counts_the_time_before_train_in_plain_steps_and_names_the_gate_that_raised_memory():
    lines = [
        (3.0, "  PASS setup/targets: ...", {"hwm_mb": 400.0, "cpu_s": 3.0}),
        (9.0, "  PASS setup/split_overlap: ...", {"hwm_mb": 4000.0, "cpu_s": 9.0}),
        (10.0, "│ setup │ split_overlap    │ PASS    │", None),
        (30.0, "  PASS capacity/capacity: ...", {"hwm_mb": 4010.0, "cpu_s": 20.0}),
        (40.0, "  PASS train/loss_decreases: ...", {"hwm_mb": 4100.0, "cpu_s": 30.0}),
    ]
    times = bench.verdict_times(lines)
    assert list(times["peak_raised_by"]) == ["setup/targets", "setup/split_overlap", "train/loss_decreases"]
    assert times["peak_rss_before_train_mb"] == 4010.0 and times["before_train_wall_s"] == 30.0
    assert times["before_train_cpu_s"] == 20.0
    plain = {"params_m": 0.108, "step_ms": 50.0, "step_cpu_ms": 40.0, "peak_rss_mb": 500.0}
    run = {"status": "passed", "halted_at": None, "peak_rss_mb": 4100.0, "cpu_s": 60.0, **times}
    run |= {"before_train_s": 25.0, "stages_s": {"capacity": 20.0, "train": 5.0, "evaluate": 2.0}}
    run |= bench.derived(run, plain, "cpu")
    assert run["before_train_plain_steps"] == 500 and run["before_train_cpu_plain_steps"] == 500
    assert run["run_cpu_plain_steps"] == 1500 and run["peak_vs_plain"] == 8.2
    row = {"width": 64, "layers": 2, "lr": 3e-3, "plain": plain, "runs": {"before": run}}
    table = bench.markdown([row], "cpu")
    assert "| 64 wide x 2 layers | 0.11 M | 0.003 | before | 50.0 ms | 25.0 s | 500 | 500 (1,500) | 20.0 |" in table
    assert "| 500; 4,100 = 8.20x | 4,010 = 8.02x |" in table and table.endswith("| passed |")
