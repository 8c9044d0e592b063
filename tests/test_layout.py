"""The house keeps its shape: imports point one way between layers, modules and functions stay small,
and no stage hands another a free-form dict."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "saneloop"
# Top to bottom: a module may import from its own layer or any layer below it, never above.
LAYERS = [
    ("cli",),
    ("runner",),
    ("stages",),
    ("engine",),
    ("record",),
    ("config",),
    ("checks",),
    ("models",),  # how any model is run on a batch (models/forward.py) reads the data layer's Batch
    ("data",),
    ("tasks", "datasets"),
    ("errors",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 50


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def _layer(module: str) -> str | None:
    """The layer of a dotted module inside saneloop (None for the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "saneloop" else None


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every saneloop module `path` imports (at any depth of the file), with its line."""
    here = _dotted(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in ast.walk(block)}
    for node in (n for n in ast.walk(tree) if id(n) not in typing_only):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("saneloop")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("saneloop"):
                found.append((node.lineno, target))
    return found


def _is_type_checking(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` blocks name types for annotations only; they import nothing at run time."""
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_down_the_layers(path):
    own = _layer(_dotted(path))
    if own is None:  # saneloop/__init__.py re-exports the API from the top
        return
    for line, target in _imports(path):
        other = _layer(target)
        if other is not None and other in RANK and own in RANK:
            assert RANK[other] >= RANK[own], f"{path.relative_to(REPO)}:{line} ({own}) imports {target} ({other})"


def test_every_package_layer_is_placed():
    layers = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name != "conf"}
    layers |= {p.stem for p in PACKAGE.glob("*.py") if not p.name.startswith("__")}
    assert layers == set(RANK), f"place new layers in LAYERS: {sorted(layers ^ set(RANK))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_modules_and_functions_stay_small(path):
    source = path.read_text()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.relative_to(REPO)} is over {MAX_MODULE_LINES} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.relative_to(REPO)}:{node.lineno} {node.name} is {length} lines"


def test_stages_hand_results_on_through_typed_fields():
    """No `state` dict, no `dict[str, Any]` field on the context or a stage result."""
    tree = ast.parse((PACKAGE / "stages" / "context.py").read_text())
    for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
        for field in [n for n in cls.body if isinstance(n, ast.AnnAssign)]:
            annotation = ast.unparse(field.annotation)
            assert "dict" not in annotation.lower(), f"{cls.name}.{ast.unparse(field.target)}: {annotation}"


def _graph() -> dict[str, set[str]]:
    """Module -> the saneloop modules it imports (type-checking imports too: a circle is a circle on paper)."""
    modules = {_dotted(path): path for path in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
                targets |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("saneloop"):
                targets.add(node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_no_import_cycles_inside_the_package():
    """A package's __init__ re-exporting its modules is not a circle: only module-to-module arrows count."""
    graph = {m: {t for t in ts if not _is_parent(t, m)} for m, ts in _graph().items()}
    done: set[str] = set()
    for start in graph:
        stack, path = [(start, iter(graph[start]))], [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                done.add(node)
                stack.pop()
                path.pop()
            elif child in path:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(child) :] + [child]))
            elif child not in done:
                stack.append((child, iter(graph[child])))
                path.append(child)


def _is_parent(package: str, module: str) -> bool:
    return module.startswith(package + ".")
