"""The README's Python examples run as written (in a scratch folder)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("n", range(len(BLOCKS)))
def test_readme_example_runs(n, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[n], f"README example {n}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    for expected in re.findall(r"#\s*(tensor '.*)$", BLOCKS[n], re.M):
        assert expected.strip() in out
    for expected in re.findall(r"#\s*->\s*(.*)$", BLOCKS[n], re.M):  # "# -> X": the line prints X
        assert expected.strip() in out
