"""Tables for the book: one object that Jupyter shows as an HTML table and nbval reads
as aligned plain text.

A :class:`Table` holds already formatted cells (strings), so what the reader sees and
what the regression checks compare are the same characters. Build one from records with
:func:`table_from_records`, or by hand.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Callable, Sequence

__all__ = ["Table", "table_from_records", "settings_table", "fmt"]


@dataclass(frozen=True)
class Table:
    """A table of formatted cells.

    Attributes:
        columns: the column headers.
        rows: one tuple of cell strings per row, as long as ``columns``.
        title: a caption above the table ("" for none).
        notes: lines printed under the table.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        rows = tuple(tuple(str(c) for c in row) for row in self.rows)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "notes", tuple(self.notes))
        for i, row in enumerate(rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {i} has {len(row)} cells, the table has "
                    f"{len(self.columns)} columns: {row}"
                )

    def text(self) -> str:
        """Aligned plain text: the first column left-aligned, the others
        right-aligned."""
        widths = [
            max([len(c)] + [len(r[j]) for r in self.rows])
            for j, c in enumerate(self.columns)
        ]

        def line(cells):
            parts = [
                cell.ljust(w) if j == 0 else cell.rjust(w)
                for j, (cell, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(parts).rstrip()

        out = [self.title] if self.title else []
        out += [line(self.columns), line(["-" * w for w in widths])]
        out += [line(r) for r in self.rows]
        out += list(self.notes)
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{esc(self.title)}</caption>" if self.title else ""
        notes = "".join(f"<p>{esc(n)}</p>" for n in self.notes)
        return (
            f'<table class="facelib-table">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{notes}"
        )

    def column(self, name: str) -> tuple[str, ...]:
        """The cells of one column."""
        j = self.columns.index(name)
        return tuple(r[j] for r in self.rows)


def fmt(value, spec: str, unit: str = "", missing: str = "-") -> str:
    """``value`` formatted with ``spec`` (e.g. ``".2f"``) and a unit; ``missing`` for
    None or NaN."""
    if value is None or (isinstance(value, float) and value != value):
        return missing
    return f"{value:{spec}}" + (f" {unit}" if unit else "")


def table_from_records(
    records: Sequence[dict],
    columns: dict[str, Callable[[dict], str]],
    *,
    title: str = "",
    notes: Sequence[str] = (),
) -> Table:
    """A :class:`Table` with one row per record: ``columns`` maps each header to a
    function from the record to its cell string."""
    rows = tuple(tuple(f(r) for f in columns.values()) for r in records)
    return Table(columns=tuple(columns), rows=rows, title=title, notes=tuple(notes))


def settings_table(settings, *, title: str = "") -> Table:
    """A dataclass instance (a configuration) as a two-column table of its fields and
    their values, in declaration order."""
    if not is_dataclass(settings) or isinstance(settings, type):
        raise TypeError(f"expected a dataclass instance, got {type(settings).__name__}")
    rows = tuple((f.name, repr(getattr(settings, f.name))) for f in fields(settings))
    title = title or type(settings).__name__
    return Table(columns=("setting", "value"), rows=rows, title=title)
