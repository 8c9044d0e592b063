"""A run dir belongs to one run: two runs started together into one dir, or a new run into a finished
run's dir, never mix; the second is refused (exit status 2) naming why, and `output.overwrite=true`
moves the earlier run's files aside instead of writing over them."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from saneloop.record import run_dir
from saneloop.record.run_dir import HOLDER, RunDirTaken
from tests.conftest import run_cli, run_pipeline, start_cli

QUICK = ["stop_after=setup", "output.progress=false"]


def _tree(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _seed_of(folder: Path) -> str:
    return next(line for line in (folder / "config.yaml").read_text().splitlines() if line.startswith("seed:"))


def test_two_runs_started_together_into_one_dir_the_second_is_refused_naming_the_first(tmp_path):
    """The first holds the dir (held in setup until the test lets it go); the second, seed=1, is refused."""
    release = tmp_path / "release"
    hold_in_setup = (
        "import pathlib, time, saneloop.stages.setup as s\n"
        "run = s.run\n"
        "def held(ctx):\n"
        f"    while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)\n"
        "    return run(ctx)\n"
        "s.run = held\nfrom saneloop.cli import main; main()"
    )
    run = tmp_path / "run"
    first = start_cli(run, *QUICK, code=hold_in_setup)
    try:
        end = time.monotonic() + 120
        while not (run / "config.yaml").exists():
            assert first.poll() is None and time.monotonic() < end, first.stdout.read() if first.poll() else "slow"
            time.sleep(0.05)
        second = run_cli(run, "+recipe=classify", *QUICK, "seed=1")
    finally:
        release.touch()
        output, _ = first.communicate(timeout=120)
    said = " ".join(second.stderr.split())
    assert second.returncode == EXIT_INPUT_ERROR, second.stdout + second.stderr
    assert f"{run} is in use by another run (pid {first.pid} on " in said and "hydra.run.dir=DIR" in said
    assert first.returncode == EXIT_PASSED, output
    assert _seed_of(run) == "seed: 0" and "seed=1" not in (run / ".hydra" / "overrides.yaml").read_text()
    assert json.loads((run / "report.json").read_text())["status"] == "stopped"
    assert len(list((run / "tensorboard").iterdir())) == 1 and not (run / HOLDER).exists()


def test_a_new_run_into_a_finished_runs_dir_is_refused_and_overwrite_moves_the_old_one_aside(tmp_path):
    code, _ = run_pipeline(tmp_path, *QUICK)
    assert code == EXIT_PASSED
    before = _tree(tmp_path)
    refused = run_cli(tmp_path, "+recipe=classify", *QUICK, "seed=1")
    said = " ".join(refused.stderr.split())
    assert refused.returncode == EXIT_INPUT_ERROR, refused.stdout + refused.stderr
    assert f"{tmp_path} already holds an earlier run (status 'stopped')" in said and "output.overwrite=true" in said
    assert _tree(tmp_path) == before  # not one byte written: no report, no .hydra, no log

    code, report = run_pipeline(tmp_path, *QUICK, "seed=1", "output.overwrite=true")
    assert code == EXIT_PASSED and _seed_of(tmp_path) == "seed: 1"
    [previous] = tmp_path.glob("previous-*")
    assert _tree(previous) == {name: digest for name, digest in before.items() if not name.startswith(".saneloop")}
    assert f"an earlier run's files were moved to {previous} <output.overwrite=true>" in report["notes"]
    assert len(list((tmp_path / "tensorboard").iterdir())) == 1  # TensorBoard: one run per folder


def test_claims_nest_a_stale_lock_is_taken_over_and_a_refused_configs_report_is_no_run(tmp_path):
    (tmp_path / HOLDER).write_text(json.dumps({"pid": 99999999, "host": "gone", "started": "then", "command": "x"}))
    notes = run_dir.claim(tmp_path)
    assert notes == [
        "took over the run dir's lock from pid 99999999 on gone, started then: x, which is gone (a stale lock)"
    ]
    assert run_dir.claim(tmp_path) == notes  # the pipeline's claim inside the command line's
    run_dir.release(tmp_path)
    assert json.loads((tmp_path / HOLDER).read_text())["pid"] == os.getpid()  # still held
    run_dir.release(tmp_path)
    assert not (tmp_path / HOLDER).exists()

    (tmp_path / "report.json").write_text(json.dumps({"status": "error", "exit_code": EXIT_INPUT_ERROR, "stages": []}))
    assert not run_dir.holds_run(tmp_path)  # a typo refused before anything ran: start again there after the fix
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(RunDirTaken, match="already holds an earlier run"):
        run_dir.claim(tmp_path)
    assert not (tmp_path / HOLDER).exists()  # a refused claim lets go
