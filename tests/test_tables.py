"""facelib.tables: aligned text and HTML from formatted cells, fmt, records and
settings."""

from dataclasses import dataclass

import pytest

from facelib.tables import Table, fmt, settings_table, table_from_records


def small() -> Table:
    return Table(
        columns=("name", "a", "bb"),
        rows=(("x", "1", "22"), ("long", "333", "4")),
        title="T",
        notes=("n1", "n2"),
    )


def test_text_is_aligned_first_column_left_the_others_right():
    expected = "\n".join(
        [
            "T",
            "name    a  bb",
            "----  ---  --",
            "x       1  22",
            "long  333   4",
            "n1",
            "n2",
        ]
    )
    assert small().text() == expected
    assert repr(small()) == expected


def test_text_without_title_or_notes_and_no_trailing_spaces():
    t = Table(columns=("k", "v"), rows=(("abc", ""), ("d", "12345")))
    assert t.text() == "k        v\n---  -----\nabc\nd    12345"


def test_cells_become_strings():
    t = Table(columns=["n", 2], rows=[[1, 2.5]], notes=["x"])
    assert t.columns == ("n", "2") and t.rows == (("1", "2.5"),) and t.notes == ("x",)
    assert t.column("2") == ("2.5",)
    assert small().column("bb") == ("22", "4")


def test_html_escapes_every_cell():
    t = Table(
        columns=("a<b", "c"), rows=(("x & y", "<i>"),), title="1 < 2", notes=("&",)
    )
    assert t._repr_html_() == (
        '<table class="facelib-table"><caption>1 &lt; 2</caption>'
        "<thead><tr><th>a&lt;b</th><th>c</th></tr></thead>"
        "<tbody><tr><td>x &amp; y</td><td>&lt;i&gt;</td></tr></tbody></table>"
        "<p>&amp;</p>"
    )
    bare = Table(columns=("a",), rows=(("1",),))._repr_html_()
    assert "<caption>" not in bare and "<p>" not in bare


@pytest.mark.parametrize("row", [("1",), ("1", "2", "3")])
def test_rows_of_the_wrong_length_are_refused(row):
    with pytest.raises(ValueError, match="row 1 has .* cells, the table has 2"):
        Table(columns=("a", "b"), rows=(("1", "2"), row))


def test_fmt():
    assert fmt(1.234, ".2f") == "1.23"
    assert fmt(1.26, ".1f", "mm") == "1.3 mm"
    assert fmt(7, "d", "px") == "7 px"
    assert fmt(None, ".2f", "mm") == "-"
    assert fmt(float("nan"), ".2f", "mm") == "-"
    assert fmt(float("nan"), ".2f", missing="n/a") == "n/a"
    assert fmt(0.0, ".1f", "°") == "0.0 °"  # zero is not missing


def test_table_from_records():
    records = [{"name": "a", "x": 1.5}, {"name": "b<", "x": float("nan")}]
    t = table_from_records(
        records,
        {"name": lambda r: r["name"], "x (mm)": lambda r: fmt(r["x"], ".1f", "mm")},
        title="recs",
        notes=["note"],
    )
    assert t.columns == ("name", "x (mm)") and t.title == "recs"
    assert t.rows == (("a", "1.5 mm"), ("b<", "-")) and t.notes == ("note",)


@dataclass
class Settings:
    size: int = 32
    name: str = "tiny"
    rate: float = 0.5


def test_settings_table():
    t = settings_table(Settings(size=64))
    assert t.title == "Settings" and t.columns == ("setting", "value")
    assert t.rows == (("size", "64"), ("name", "'tiny'"), ("rate", "0.5"))
    assert settings_table(Settings(), title="cfg").title == "cfg"
    assert t.text() == (
        "Settings\nsetting   value\n-------  ------\nsize         64\n"
        "name     'tiny'\nrate        0.5"
    )


@pytest.mark.parametrize("bad", [Settings, {"size": 32}, 3])
def test_settings_table_refuses_what_is_not_a_dataclass_instance(bad):
    with pytest.raises(TypeError, match="expected a dataclass instance"):
        settings_table(bad)
