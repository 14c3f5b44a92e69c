"""Code a reader can read without scrolling sideways: ruff's lint and format checks on
the library, the tests, the benchmarks and the notebooks' sources (lines of at most 88
characters, configured in pyproject.toml), and no code or markdown line in a notebook
source longer than 88 characters (ruff leaves a notebook's markdown comments alone)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facelib.book import notebook_sources, repo_root

ROOT = repo_root(Path(__file__).parent)
LIMIT = 88
CHECKED = ["facelib", "tests", "benchmarks", "notebooks"]


def ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return [exe]


def test_ruff_lint_is_clean():
    run = subprocess.run(
        ruff() + ["check", "--output-format", "concise", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_is_clean():
    run = subprocess.run(
        ruff() + ["format", "--check", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, (
        run.stdout + run.stderr + "\nrun `ruff format` on these files"
    )


def long_lines(text: str, limit: int = LIMIT) -> list[tuple[int, int]]:
    """(line number, length) of every line longer than ``limit``, after the jupytext
    header (the YAML block between the first two ``# ---`` lines)."""
    lines = text.split("\n")
    start = 0
    if lines and lines[0].strip() == "# ---":
        start = next(i for i in range(1, len(lines)) if lines[i].strip() == "# ---") + 1
    return [
        (i + 1, len(s)) for i, s in enumerate(lines) if i >= start and len(s) > limit
    ]


def test_long_lines_are_found():
    text = "# ---\n# " + "x" * 100 + "\n# ---\nshort\n" + "y" * 89 + "\n"
    assert long_lines(text) == [(5, 89)]


@pytest.mark.parametrize("source", notebook_sources(ROOT), ids=lambda p: p.stem)
def test_notebook_lines_fit(source):
    found = long_lines(source.read_text())
    assert not found, f"{source.name}: lines longer than {LIMIT} characters: {found}"
