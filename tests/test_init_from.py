"""`init_from` end to end: a run starts from pretrained weights named in the config or passed to
`saneloop.run(init_from=...)`, says which keys loaded, and refuses a path that is not there before training.
Each run stops after setup (`stop_after=setup`): loading happens there."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import yaml

import saneloop
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from saneloop.models import MLP
from saneloop.runner import compose_config, run_config
from saneloop.stages.setup import start_from
from tests.conftest import REPO, gate, run_pipeline

QUICK = ["stop_after=setup", "output.progress=false", "output.figures=false", "output.save_weights=false"]


def _pretrained(path, classes: int = 10, hidden: int = 256):
    """The classify recipe's model (model/mlp.yaml), from another seed: weights the seed does not give."""
    torch.manual_seed(123)
    torch.save(MLP(64, classes, hidden=hidden).state_dict(), path)
    return path


def test_the_config_key_loads_the_weights_and_says_so(tmp_path):
    weights = _pretrained(tmp_path / "pretrained.pt")
    code, report = run_pipeline(tmp_path / "run", *QUICK, f"init_from.path={weights}")
    assert code == EXIT_PASSED and report["status"] == "stopped", report
    note = next(n for n in report["notes"] if n.startswith("init_from"))
    assert f"init_from {weights}: 6 keys loaded (100.0% of the parameters" in note
    assert gate(report, "determinism")["status"] == "passed"  # its short runs start from the loaded weights


def test_the_python_api_loads_into_a_model_object_and_records_the_override(tmp_path):
    weights = _pretrained(tmp_path / "body.pt", hidden=32)
    overrides = [*QUICK, "init_from.new=[head.*]"]  # a fresh head: the model's 10 classes are the data's, yet new
    model = MLP(64, 10, hidden=32)
    result = saneloop.run("classify", overrides, model=model, init_from=weights, run_dir=tmp_path / "run")
    assert result.exit_code == EXIT_PASSED, result.report
    notes = result.report["notes"]
    assert any("4 keys loaded" in n and "2 declared new, left at init: head.weight" in n for n in notes)
    recorded = yaml.safe_load((tmp_path / "run" / ".hydra" / "overrides.yaml").read_text())
    assert f"init_from.path='{weights.resolve()}'" in recorded  # resume=RUN_DIR composes the same config


def test_a_path_that_is_not_there_is_refused_before_training(tmp_path):
    code, report = run_pipeline(tmp_path, *QUICK, f"init_from.path={tmp_path / 'nowhere'}")
    assert code == EXIT_INPUT_ERROR and report["status"] == "error"
    assert f"init_from.path={tmp_path / 'nowhere'} does not exist" in report["error"]
    assert [s["name"] for s in report["stages"]] == ["setup"]


def test_a_share_to_load_out_of_range_is_refused_by_its_key(tmp_path):
    code, report = run_pipeline(tmp_path, *QUICK, "init_from.min_loaded=0")
    assert code == EXIT_INPUT_ERROR and "init_from.min_loaded=0.0 must be > 0.0" in report["error"]


def test_weights_of_another_model_are_refused_naming_the_shapes(tmp_path):
    weights = _pretrained(tmp_path / "small.pt", hidden=32)
    code, report = run_pipeline(tmp_path / "run", *QUICK, f"init_from.path={weights}")
    assert code == EXIT_INPUT_ERROR, report
    assert "shapes disagree (checkpoint vs model): body.1.weight (32, 64) vs (256, 64)" in report["error"]


def test_a_resumed_run_whose_init_from_is_gone_goes_on_from_its_checkpoint(tmp_path):
    notes: list[str] = []
    ctx = SimpleNamespace(
        settings=SimpleNamespace(init_from=SimpleNamespace(path=str(tmp_path / "gone.pt"), new=[], min_loaded=0.5)),
        resumed=object(),
        record=SimpleNamespace(note=notes.append),
    )
    assert start_from(ctx, MLP(64, 10, hidden=8)) is None
    assert notes == [f"init_from.path={tmp_path / 'gone.pt'} is gone: the resumed run continues from its checkpoint"]


@pytest.mark.slow  # ~10 s (transformers, the example's data); tests/models/test_pretrained.py covers the load itself
def test_the_hf_gpt2_example_starts_from_a_save_pretrained_folder(tmp_path, monkeypatch):
    """README's command: `cd examples/hf_gpt2 && python -m saneloop +recipe=hf_gpt2 --config-dir conf
    init_from.path=my_gpt2`, the folder written by save_pretrained from the example's own model config."""
    pytest.importorskip("transformers")
    from saneloop.models.hf import from_config

    example = REPO / "examples" / "hf_gpt2"
    model = yaml.safe_load((example / "conf" / "model" / "tiny_gpt2.yaml").read_text())
    model.pop("_target_")
    model["vocab_size"] = yaml.safe_load((example / "conf" / "data" / "play_lines.yaml").read_text())["vocab_size"]
    from_config(**model).save_pretrained(tmp_path / "my_gpt2")
    monkeypatch.syspath_prepend(str(example))
    cfg, _ = compose_config("hf_gpt2", [*QUICK, f"init_from.path={tmp_path / 'my_gpt2'}"], example / "conf")
    result = run_config(cfg, tmp_path / "run")
    assert result.exit_code == EXIT_PASSED, result.report
    note = next(n for n in result.report["notes"] if n.startswith("init_from"))
    assert "(GPT2LMHeadModel.from_pretrained, offline): 29 keys loaded (100.0%" in note and "missing" not in note
