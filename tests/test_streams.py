"""Every seeded random stream lives in `saneloop.data.streams`, each with its own value, and turning gates off
changes nothing the train stage draws: the trained weights are identical bit for bit."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from saneloop.checks import GATES as DECLARED
from saneloop.data.streams import Stream
from saneloop.errors import EXIT_PASSED
from tests.conftest import REPO, run_pipeline

PACKAGE, STREAMS = REPO / "saneloop", REPO / "saneloop" / "data" / "streams.py"
GATES = [gate.name for gate in DECLARED]
# A short classify run whose training draws from the global streams too (Dropout, augmentation noise), so
# a gate that moved them, or a train stage that did not reseed, would change the weights.
SHORT = [
    "train.max_steps=20",
    "model.dropout=0.1",
    "augment=noise",
    "output.figures=false",
    "output.progress=false",
    "output.save_weights=true",
]


def test_every_stream_has_its_own_value():
    members = Stream.__members__  # aliases (a reused value) included
    values = [int(m) for m in members.values()]
    assert len(set(values)) == len(members), f"streams share a value: {dict(members)}"


def test_every_stream_says_what_draws_from_it():
    lines = inspect.getsource(Stream).splitlines()
    for name in Stream.__members__:
        line = next(line for line in lines if line.strip().startswith(f"{name} ="))
        assert "#" in line and line.split("#", 1)[1].strip(), f"Stream.{name}: one comment on what draws from it"


def _name(node: ast.AST) -> str:
    """A name's or an attribute's own name (`seed` for `ctx.seed`); "" for anything else."""
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _names_seed(node: ast.AST) -> bool:
    """`seed`, `ctx.seed`, `split_seed`, `torch.initial_seed()`: anything naming a seed."""
    return any("seed" in _name(n).lower() for n in ast.walk(node))


def _literal(node: ast.AST) -> bool:
    """A fixed offset: a number, a bool (a comparison), a module constant or enum member, or arithmetic of them."""
    if isinstance(node, (ast.Constant, ast.Compare, ast.BoolOp)):
        return True
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _name(node).isupper()
    if isinstance(node, ast.BinOp):
        return _literal(node.left) and _literal(node.right)
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    if isinstance(node, ast.Call):  # int(Stream.X)
        return bool(node.args) and all(_literal(a) for a in node.args)
    return False


def seed_offsets(source: str) -> list[str]:
    """Every `seed + <fixed offset>` (or `-`, `+=`) in `source`: a random stream kept outside the streams module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            pairs = [(node.left, node.right), (node.right, node.left)]
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)):
            pairs = [(node.target, node.value)]
        else:
            continue
        if any(_names_seed(seed) and _literal(offset) for seed, offset in pairs):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_offset_finder_finds_the_patterns_the_streams_replaced():
    assert seed_offsets('gen = generator(seed + SAMPLE_STREAM + (split == "test"))')
    assert seed_offsets("g = generator(self.seed + 3)")
    assert seed_offsets("g = generator(ctx.seed + Stream.PROBE)")
    assert seed_offsets("seed += 4")
    assert not seed_offsets("seed_everything(ctx.seed + ctx.accelerator.process_index, True)")  # per process
    assert not seed_offsets("worker = (torch.initial_seed() + rank * 2**16) % 2**32")  # per rank


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_offsets_the_seed_outside_the_streams_module(path: Path):
    if path == STREAMS:
        return
    source = path.read_text()
    assert not seed_offsets(source), f"{path.relative_to(REPO)}: take the stream from saneloop.data.streams"
    constants = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and n.id.endswith("_STREAM")]
    assert not constants, f"{path.relative_to(REPO)}:{constants[0].lineno}: a stream constant outside Stream"


def _weights(run_dir: Path, *overrides: str) -> dict[str, torch.Tensor]:
    code, report = run_pipeline(run_dir, *SHORT, *overrides)
    assert code == EXIT_PASSED, (report.get("halted_at"), report.get("error"))
    return load_file(str(run_dir / "model.safetensors"))


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    differ = {k: float((a[k] - b[k]).abs().max()) for k in a if not torch.equal(a[k], b[k])}
    assert not differ, f"trained weights differ (largest change per tensor): {differ}"


@pytest.fixture(scope="module")
def every_gate_on(tmp_path_factory) -> dict[str, torch.Tensor]:
    return _weights(tmp_path_factory.mktemp("every_gate_on"))


def test_turning_every_gate_off_leaves_the_trained_weights_bit_identical(every_gate_on, tmp_path):
    off = _weights(tmp_path, *[f"gates.{name}.enabled=false" for name in GATES])
    assert_identical(every_gate_on, off)


@pytest.mark.slow
@pytest.mark.parametrize("name", GATES)
def test_turning_one_gate_off_leaves_the_trained_weights_bit_identical(every_gate_on, tmp_path, name):
    assert_identical(every_gate_on, _weights(tmp_path, f"gates.{name}.enabled=false"))
