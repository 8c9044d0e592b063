"""The command line's own commands, answered before Hydra runs: `--help`, `ls`, `cp`, the hint
printed when no recipe is given, and `check` (a run, with the overrides that make it a diagnosis)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

from ..config.store import GROUPS, conf_dir, options, recipe_names
from ..errors import EXIT_INPUT_ERROR, EXIT_PASSED

FIRST_COMMAND = "python -m saneloop +recipe=classify"
HELP = """saneloop: a PyTorch training loop that runs Karpathy's recipe by construction: every run seeded,
augmentation off, the last bias set from the data, and stages guarded by gates that halt with a verdict.

Run the main job (handwritten digits, shipped offline):
  {first}

Recipes: {recipes}

  saneloop +recipe=NAME [KEY=VALUE ...]                 one run (the same as python -m saneloop ...)
  saneloop +recipe=NAME --config-dir DIR model=M data=D your own model and data, from DIR/model, DIR/data
  saneloop -m +recipe=NAME seed=0,1,2                   a sweep (Hydra multirun), summary.md at its root
  saneloop resume=RUN_DIR                               continue an interrupted run from its checkpoint
  saneloop +recipe=NAME hydra.run.dir=DIR               a run dir of your own; a finished run there is refused
                                                        unless output.overwrite=true (moved to DIR/previous-*)
  saneloop +recipe=NAME stop_after=STAGE                run up to STAGE, then stop (setup: check the data only)
  saneloop check +recipe=NAME [KEY=VALUE ...]           every gate before train, every failure listed at once
                                                        (gates.on_fail=continue stop_after=capacity; exit 3 if any)
  saneloop cp RECIPE [DIR]                              copy a built-in recipe into DIR (default conf) to edit;
                                                        GROUP/NAME (e.g. model/mlp) copies any config
  saneloop ls                                           every config group and its options
  saneloop gates [--markdown]                           every gate: its stage and what it checks
  saneloop +recipe=NAME --cfg job                       print the composed config, run nothing

Config groups: {groups}
Gate settings: gates.<gate>.<key>=VALUE, e.g. gates.overfit.max_steps=500; gates.<gate>.waive="why"
A failed gate halts the run (gates.on_fail=halt); gates.on_fail=continue runs on and lists every failure
Exit status: 0 passed (or stopped by stop_after), 1 crash, 2 bad config or input, 3 halted at a gate, 4 interrupted
Hydra's own flags (--multirun, --config-dir, --cfg, --info, ...): saneloop --hydra-help
Python: import saneloop; saneloop.run("classify", overrides=["train.epochs=10"])"""


# What `saneloop check` adds to a run's overrides, unless the user set the key: every gate that can run does,
# and the run stops before train (the expensive stage, and one no gate before it needs).
CHECK = {"gates.on_fail": "continue", "stop_after": "capacity"}


def as_run(argv: list[str]) -> list[str]:
    """`check ARGS` is the run of ARGS with `CHECK`'s overrides (each unless ARGS sets that key; Hydra
    refuses a key given twice); any other command line as it is."""
    if argv[:1] != ["check"]:
        return argv
    given = {a.lstrip("+").split("=")[0] for a in argv[1:] if "=" in a}
    return [*argv[1:], *(f"{key}={value}" for key, value in CHECK.items() if key not in given)]


def answered(argv: list[str]) -> Optional[int]:
    """The exit status of a command answered here, or None when Hydra should run `argv`."""
    if argv[:1] == ["ls"]:
        return list_configs()
    if argv[:1] == ["cp"]:
        return copy_config(argv[1:])
    if argv[:1] == ["gates"]:
        return list_gates("--markdown" in argv[1:])
    if any(a in ("--help", "-h") for a in argv):
        print(HELP.format(first=FIRST_COMMAND, recipes=", ".join(recipe_names()), groups=", ".join(GROUPS[1:])))
        return EXIT_PASSED
    if not _names_a_recipe(argv):
        print(
            f"saneloop: choose a recipe, e.g. `{FIRST_COMMAND}` (recipes: {', '.join(recipe_names())}); "
            "`saneloop --help` says more",
            file=sys.stderr,
        )
        return EXIT_INPUT_ERROR
    return None


def _names_a_recipe(argv: list[str]) -> bool:
    """A recipe, a resume, a user's own primary config, or a flag that runs nothing (--hydra-help, --info)."""
    keys = ("+recipe=", "recipe=", "++recipe=", "resume=")
    flags = ("--config-name", "-cn", "--hydra-help", "--info", "-i", "--shell-completion", "-sc", "--version")
    return any(a.startswith(keys) for a in argv) or any(a.split("=")[0] in flags for a in argv)


def list_configs() -> int:
    for group in GROUPS:
        print(f"{group}: {', '.join(options(group))}")
    return EXIT_PASSED


def list_gates(as_markdown: bool) -> int:
    from ..checks.base import reference

    print(reference.markdown() if as_markdown else reference.plain())
    return EXIT_PASSED


def copy_config(args: list[str]) -> int:
    """`cp NAME|GROUP/NAME [DIR|FILE.yaml]`: a built-in config copied where the user edits it, renamed
    `my_NAME` so it does not hide behind the built-in one of the same name (saneloop's own come first
    on the search path)."""
    if not args or len(args) > 2:
        print("usage: saneloop cp RECIPE|GROUP/NAME [DIR|FILE.yaml]  (e.g. saneloop cp classify conf)", file=sys.stderr)
        return EXIT_INPUT_ERROR
    group, _, name = args[0].rpartition("/")
    group = group or "recipe"
    source = conf_dir() / group / f"{name}.yaml"
    if group not in GROUPS or not source.is_file():
        print(
            f"saneloop cp: no built-in {group}/{name}; {group}: {', '.join(options(group)) or 'none'}", file=sys.stderr
        )
        return EXIT_INPUT_ERROR
    dest = Path(args[1] if len(args) == 2 else "conf")
    dest = dest if dest.suffix == ".yaml" else dest / group / f"my_{name}.yaml"
    if dest.exists():
        print(f"saneloop cp: {dest} exists; remove it or give another destination", file=sys.stderr)
        return EXIT_INPUT_ERROR
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text()
    if group == "recipe":
        text = re.sub(rf"^recipe: {re.escape(name)}$", f"recipe: {dest.stem}", text, flags=re.M)
    dest.write_text(text)
    how = f"+recipe={dest.stem}" if group == "recipe" else f"+recipe=classify {group}={dest.stem}"
    print(f"copied {group}/{name} to {dest}; edit it, then run: saneloop {how} --config-dir {dest.parent.parent}")
    return EXIT_PASSED
