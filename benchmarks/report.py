"""The benchmark's table for the book, generated from ``runs/bench/*.json``.

``python -m benchmarks.run`` writes it after measuring; ``make html`` runs ``python -m
benchmarks.report`` before building the book, so that the page that includes it
(``book/reproduce.md``, a MyST ``{include}``) always finds the file: with no results
yet it says so and names the command. Every number comes from a JSON file whose
checksum record (:func:`facelib.storage.write_checksum`) is checked here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facelib.storage import atomic_write, read_json, verify_checksum

__all__ = ["PARTS", "load_results", "markdown", "write_markdown", "main"]

#: the parts of ``python -m benchmarks.run``, in the table's order
PARTS = ("rasterizer", "training", "inference", "armse", "registration")


def load_results(directory: str | Path) -> list[dict]:
    """The results of each part found in ``directory``, in :data:`PARTS` order, each
    checked against its checksum record (``ValueError`` if it was edited or damaged)."""
    results = []
    for part in PARTS:
        path = Path(directory) / f"{part}.json"
        if path.is_file():
            verify_checksum(path)
            results.append(
                read_json(path, fix="run `make bench` (python -m benchmarks.run)")
            )
    return results


def _value(x: float, unit: str) -> str:
    digits = f"{x:,.0f}" if x >= 100 else f"{x:.3g}"
    return f"{digits} {unit}"


def _times(ratio: float) -> str:
    """A ratio as a reader reads it: 1,850x, 3.47x, 0.58x."""
    return f"**{ratio:,.0f}x**" if ratio >= 100 else f"**{ratio:.3g}x**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(results: list[dict]) -> str:
    """A markdown table of every row of ``results`` (see :func:`load_results`), with
    the targets and the machine under it; a note naming the command when empty."""
    if not results:
        return (
            "No benchmark results yet: run `make bench` (`python -m benchmarks.run "
            "--size full`) and rebuild the book.\n"
        )
    lines = [
        "| part | case | ours vs baseline | ours | baseline |",
        "| --- | --- | --- | --- | --- |",
    ]
    notes, targets = [], []
    for result in results:
        for row in result["rows"]:
            unit, base = row["unit"], row["baseline"]
            ours = f"{_value(row['ours']['value'], unit)} ({row['ours']['what']})"
            theirs = (
                "-"
                if base is None
                else f"{_value(base['value'], unit)} ({base['what']})"
            )
            ratio = "-" if row["ratio"] is None else _times(row["ratio"])
            cells = (result["part"], row["case"], ratio, ours, theirs)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
            if row["note"]:
                notes.append(f"{result['part']}, {row['case']}: {row['note']}")
        for t in result["targets"]:
            verdict = "met" if t["met"] else "**not met**"
            targets.append(f"{t['what']}: {verdict} ({t['value']:.3g})")
    first = results[0]
    m = first["machine"]
    loads = ", ".join(
        f"{r['part']} {r['machine']['load_average']:.1f}"
        for r in results
        if r["machine"].get("load_average") is not None
    )
    out = ["\n".join(lines), ""]
    out.append(
        "Ratios are our speed over the baseline's (above 1: ours is faster). "
        f"Measured by `{first['command']}` (size `{first['size']}`) on {m['cpu']}, "
        f"{m['cores']} cores, torch {m['torch']} on {m['torch_threads']} threads; "
        f"load average when each part started: {loads}."
    )
    setup = [
        f"{r['part']}, {key.replace('_', ' ')}: {value}"
        for r in results
        for key, value in r.get("info", {}).items()
    ]
    if setup:
        out += ["", "Setup:", ""] + [f"- {_cell(str(line))}" for line in setup]
    if targets:
        out += ["", "Targets on 2 cores:", ""] + [f"- {t}" for t in targets]
    if notes:
        out += ["", "Notes:", ""] + [f"- {_cell(n)}" for n in notes]
    return "\n".join(out) + "\n"


def write_markdown(directory: str | Path, path: str | Path) -> Path:
    """Write :func:`markdown` of the results in ``directory`` to ``path``,
    atomically; returns the path."""
    text = markdown(load_results(directory))
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def main(argv: list[str] | None = None) -> Path:
    """``python -m benchmarks.report [--results DIR] [--out FILE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--results", default="runs/bench")
    parser.add_argument("--out", default="book/bench_table.md")
    args = parser.parse_args(argv)
    return write_markdown(args.results, args.out)


if __name__ == "__main__":
    main()
