"""The README's standalone-checks example runs as written."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_standalone_checks_example_runs(capsys):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Checks on their own", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    first_row = capsys.readouterr().out.strip()
    values = [float(v) for v in first_row.strip("[]").split(",")]
    assert values[0] > 0 and values[1:] == [0.0, 0.0, 0.0]
