"""The package's layers (app/README.md, "Layout"): a module imports only from its own layer or a lower
one, so a request travels down transport > protocols > core > model and its answer back up, and
observability (metrics, logs, tracing) is reachable from every layer because it imports none of them.

Read from the source (every `import`, at any depth, including under TYPE_CHECKING and inside
functions), so a lazy import that climbs a layer fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scoring"

# Higher number: higher layer. __main__ (start-up) sits above all of them.
RANK = {"observability": 0, "model": 1, "core": 2, "protocols": 3, "transport": 4, "__main__": 5}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str | None:
    """scoring.<layer>.x -> <layer>; scoring.__main__ -> __main__; anything else: None (not ours)."""
    parts = module.split(".")
    if parts[0] != "scoring" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import of this package in the file (or in `source` read as that
    file), absolute or relative."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            if base == "scoring":  # `from scoring import core`: the names are the modules
                found += [(node.lineno, f"scoring.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name == "scoring" or name.startswith("scoring.")]


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert loose == [], f"modules outside a layer package ({', '.join(RANK)}): {loose}; move each into one"
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(RANK) - {"__main__"}


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    own = _layer(_module_name(path))
    if own is None:  # scoring/__init__.py: imports nothing
        assert _imports(path) == []
        return
    upward = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name} ({layer} is above {own})"
        for line, name in _imports(path)
        if (layer := _layer(name)) is not None and RANK[layer] > RANK[own]
    ]
    assert upward == []


def test_the_check_sees_an_upward_import() -> None:
    """The rule above is not vacuous: a model module importing a protocol, absolutely or relatively,
    is reported."""
    source = "from scoring.protocols import v2\n\ndef f():\n    from ..transport import fast_lane\n"
    found = [name for _, name in _imports(PACKAGE / "model" / "entry.py", source)]
    assert found == ["scoring.protocols", "scoring.transport"]
    assert all(RANK[_layer(name) or ""] > RANK["model"] for name in found)


# The tests mirror the layers: app/tests/<layer>/ for what one layer does (a test may start the real
# server to show it), END_TO_END for what only the layers together do, and shared helpers beside
# conftest.py. Only this file's checks, which are about the package as a whole, stay at the top.
TESTS = Path(__file__).resolve().parent
END_TO_END = "end_to_end"
NOT_TESTS = {"fixtures", "__pycache__"}


def test_each_test_folder_is_a_layer_or_end_to_end() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name not in NOT_TESTS}
    expected = (set(RANK) - {"__main__"}) | {END_TO_END}
    assert folders == expected, f"test folders {sorted(folders)}; expected one per layer plus {END_TO_END}"
    loose = sorted(p.name for p in TESTS.glob("test_*.py") if p != Path(__file__).resolve())
    assert loose == [], f"tests outside a layer's folder: {loose}; move each into its layer's or {END_TO_END}/"


def test_test_names_are_unique_across_folders() -> None:
    """pytest imports the test modules by their file name (no packages), so two folders must never hold
    the same name; and no folder is left empty."""
    names = [p.name for p in TESTS.rglob("test_*.py") if not NOT_TESTS & set(p.relative_to(TESTS).parts)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    empty = [p.name for p in TESTS.iterdir() if p.is_dir() and p.name not in NOT_TESTS and not any(p.glob("test_*.py"))]
    assert empty == []
