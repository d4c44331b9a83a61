"""The layout is a rule, not a habit: which package may import which, and how long a module may grow.

Read from the modules' own import statements (ast), so a lazy import inside a function counts too.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("analysis", "model_core", "services", "viz")
# What each package must never import (top-level module names).
FORBIDDEN = {
    "analysis": {"streamlit", "plotly", "services", "viz", "altair"},
    "model_core": {"streamlit", "plotly", "services", "viz", "analysis", "altair", "pandas"},
    "viz": {"torch", "streamlit", "services", "analysis", "model_core", "transformers"},
    "services": {"viz"},
}
MAX_LINES = 400


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, wherever the import statement is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_layout(package):
    broken = {str(path.relative_to(ROOT)): sorted(imported(path) & FORBIDDEN[package]) for path in _modules(package)}
    broken = {path: names for path, names in broken.items() if names}
    assert not broken, f"{package} must not import {sorted(FORBIDDEN[package])}: {broken}"


def test_viz_draws_with_drawing_libraries_only():
    allowed = {"numpy", "pandas", "plotly", "_plotly_utils", "viz"}
    for path in _modules("viz"):
        outside = {name for name in imported(path) if name not in allowed and name not in sys.stdlib_module_names}
        assert not outside, f"viz/{path.name} imports {sorted(outside)}: viz draws arrays; analysis computes"


def test_pages_reach_models_only_through_services():
    for path in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        names = imported(path)
        assert not names & {"torch", "model_core", "transformers"}, f"{path.name} imports {names}"


def test_the_import_reader_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import numpy\n\ndef f():\n    import torch\n    from plotly.graph_objects import Figure\n")
    assert imported(module) == {"numpy", "torch", "plotly"}


@pytest.mark.parametrize("package", PACKAGES + ("pages",))
def test_no_module_is_over_the_size_limit(package):
    long = {str(p.relative_to(ROOT)): n for p in _modules(package) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_says_what_it_holds(package):
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 15, f"{package}/__init__.py needs an opening docstring describing it"
