"""The README's "From Python or a notebook" snippet, run exactly as written."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def notebook_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## From Python or a notebook", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section shows one Python snippet"
    return blocks[0]


def test_the_notebook_snippet_draws_and_saves_a_head(tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(notebook_snippet(), "README.md", "exec"), namespace)
    chart, run = namespace["chart"], namespace["run"]
    assert (tmp_path / "head.html").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "head.csv", index_col=0)
    assert table.shape == (len(run.tokens), len(run.tokens))
    assert table.index[0] == "00 [CLS]" and list(table.columns) == list(table.index)
    assert abs(table.to_numpy().sum(axis=1) - 1).max() < 1e-4       # rows of an attention pattern
    assert chart.figure.layout.title.text == "layer 3, head 1"
