"""viz only draws: its modules import numpy, pandas, plotly and the standard library, nothing else."""
import ast
import sys
from pathlib import Path

import pytest

VIZ = Path(__file__).resolve().parent.parent / "viz"
ALLOWED = {"numpy", "pandas", "plotly", "_plotly_utils", "viz"}


def imported(path: Path) -> set[str]:
    """Top-level package of every import in a module, also those inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(VIZ.glob("*.py")), ids=lambda p: p.name)
def test_viz_imports_only_drawing_libraries(path):
    outside = {name for name in imported(path) if name not in ALLOWED and name not in sys.stdlib_module_names}
    assert not outside, f"viz/{path.name} imports {sorted(outside)}: viz draws arrays; computations live in analysis"


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import numpy\n\ndef f():\n    import torch\n    from analysis.common import cosine\n")
    assert imported(module) - ALLOWED - set(sys.stdlib_module_names) == {"torch", "analysis"}
