"""facelib.book: finding the repository, reading and checking the parameter files, the
``--set`` overrides, executing a notebook with papermill, and the command line.

Most tests run on a made-up repository in a temporary folder: two jupytext notebooks and
their parameter files.
"""

import json
from pathlib import Path

import jupytext
import papermill
import pytest
import yaml

from facelib import book

ROOT = Path(__file__).resolve().parents[1]

HEADER = """\
# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

"""

NOTEBOOK_A = (
    HEADER
    + """\
# %% [markdown]
# # A made-up chapter

# %% tags=["parameters"]
alpha = 1  # a comment
name = "x"

# %%
import os

z = alpha * 10 + 2
print(z, name)
print(os.getcwd())
"""
)

NOTEBOOK_B = (
    HEADER
    + """\
# %% tags=["parameters"]
beta: float = 0.5
photos_per_subject = 5

# %%
print(beta)
"""
)


@pytest.fixture()
def repo(make_repo):
    """A made-up repository: _config.yml, facelib/, notebooks/00_a.py and 01_b.py, and
    a parameter file ``ok.yaml``."""
    return make_repo(
        {
            "00_a.py": NOTEBOOK_A,
            "01_b.py": NOTEBOOK_B,
            "README.py": "# not a chapter\n",
        },
        {"ok.yaml": "alpha: 3\nbeta: 0.25\nphotos_per_subject: 7\n"},
    )


def write_profile(repo: Path, name: str, text: str) -> None:
    (repo / "notebooks" / "params" / f"{name}.yaml").write_text(text)


# ---------------------------------------------------------------- the repository
def test_repo_root_finds_the_repository(repo, monkeypatch):
    assert book.repo_root(Path(__file__).parent) == ROOT
    assert book.repo_root(ROOT / "facelib" / "geometry") == ROOT
    deep = repo / "notebooks" / "params"
    assert book.repo_root(deep) == repo
    monkeypatch.chdir(deep)  # the default: the working directory
    assert book.repo_root() == repo


def test_repo_root_outside_a_repository(tmp_path):
    (tmp_path / "_config.yml").write_text("")  # but no facelib/ package
    with pytest.raises(FileNotFoundError, match="no facelib repository"):
        book.repo_root(tmp_path)


def test_notebook_sources_are_the_chapters_in_order(repo):
    assert [p.name for p in book.notebook_sources(repo)] == ["00_a.py", "01_b.py"]


# ---------------------------------------------------------------- parameters
def test_notebook_parameters_are_the_parameter_cells_names(repo, tmp_path):
    nbs = repo / "notebooks"
    assert book.notebook_parameters(nbs / "00_a.py") == ["alpha", "name"]
    assert book.notebook_parameters(nbs / "01_b.py") == ["beta", "photos_per_subject"]
    plain = tmp_path / "plain.py"
    plain.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        book.notebook_parameters(plain)


@pytest.mark.parametrize("source", book.notebook_sources(ROOT), ids=lambda p: p.stem)
def test_notebook_parameters_agree_with_papermill(source, tmp_path):
    as_ipynb = tmp_path / f"{source.stem}.ipynb"
    jupytext.write(jupytext.read(source), as_ipynb)
    assert book.notebook_parameters(source) == list(
        papermill.inspect_notebook(str(as_ipynb))
    )


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu", "paper"])
def test_load_profile_reads_the_books_parameter_files(profile):
    path = ROOT / "notebooks" / "params" / f"{profile}.yaml"
    params = book.load_profile(ROOT, profile)
    assert params == yaml.safe_load(path.read_text())
    assert params["profile"] == profile


def test_load_profile_reads_a_mapping(repo):
    assert book.load_profile(repo, "ok") == {
        "alpha": 3,
        "beta": 0.25,
        "photos_per_subject": 7,
    }
    write_profile(repo, "empty", "# nothing set\n")
    assert book.load_profile(repo, "empty") == {}
    with pytest.raises(FileNotFoundError, match=r"known profiles: \['empty', 'ok'\]"):
        book.load_profile(repo, "gpu")


@pytest.mark.parametrize("text", ["- alpha\n- 3\n", "just text\n", "3\n"])
def test_load_profile_refuses_a_non_mapping(repo, text):
    write_profile(repo, "bad", text)
    with pytest.raises(ValueError, match="must be a mapping"):
        book.load_profile(repo, "bad")


def test_load_profile_refuses_parameters_no_notebook_declares(repo):
    write_profile(repo, "typo", "alpha: 1\nbetta: 0.5\nz: 3\n")
    with pytest.raises(ValueError) as err:
        book.load_profile(repo, "typo")
    message = str(err.value)
    assert "['betta', 'z']" in message and "no notebook declares" in message
    assert "known parameters: ['alpha', 'beta', 'name', 'photos_per_subject']" in (
        message
    )


def test_load_profile_names_the_new_name_of_an_old_parameter(repo):
    write_profile(repo, "old", "alpha: 1\nviews: 5\n")
    with pytest.raises(ValueError, match="'views' was renamed to 'photos_per_subject'"):
        book.load_profile(repo, "old")


def test_renamed_parameters_point_to_declared_names():
    renamed = book.renamed_parameters()
    assert renamed == {"views": "photos_per_subject"}
    declared = {
        name
        for source in book.notebook_sources(ROOT)
        for name in book.notebook_parameters(source)
    }
    assert set(renamed.values()) <= declared  # the new names exist
    assert not set(renamed) & declared  # the old ones are gone


# ---------------------------------------------------------------- overrides
def test_parse_overrides_parses_yaml_values():
    params = {k: None for k in ("n", "lr", "device", "flag", "sizes", "s", "off")}
    items = [
        "n=3",
        "lr=0.0001",
        "device=cuda",
        "flag=false",
        "sizes=[32, 64]",
        "s=a=b",  # only the first '=' separates
        "off=null",
    ]
    assert book.parse_overrides(items, params) == {
        "n": 3,
        "lr": 0.0001,
        "device": "cuda",
        "flag": False,
        "sizes": [32, 64],
        "s": "a=b",
        "off": None,
    }
    assert book.parse_overrides([], params) == {}


def test_parse_overrides_refuses_unknown_old_and_malformed_names():
    params = {"photos_per_subject": 5, "device": "cpu"}
    with pytest.raises(
        ValueError,
        match=r"'epochs' is not a parameter.*\['device', 'photos_per_subject'\]",
    ):
        book.parse_overrides(["epochs=3"], params)
    with pytest.raises(ValueError, match="'views' was renamed to 'photos_per_subject'"):
        book.parse_overrides(["device=cuda", "views=3"], params)
    for item in ("device", "=cuda"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            book.parse_overrides([item], params)


# ---------------------------------------------------------------- execution
def test_execute_notebook_injects_the_declared_parameters(repo, tmp_path):
    source = repo / "notebooks" / "00_a.py"
    output = tmp_path / "out" / "00_a.ipynb"
    seconds = book.execute_notebook(source, {"alpha": 4, "beta": 9}, output)
    assert isinstance(seconds, float) and 0 < seconds < 600
    nb = json.loads(output.read_text())
    injected = [
        c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert len(injected) == 1
    assert "alpha = 4" in "".join(injected[0]["source"])
    assert "beta" not in "".join(injected[0]["source"])  # 00_a does not declare it
    printed = "".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )
    assert printed.splitlines() == ["42 x", str(source.parent)]  # 4 * 10 + 2
    # nothing next to the output but the output, nothing next to the source
    assert [p.name for p in output.parent.iterdir()] == ["00_a.ipynb"]
    assert sorted(p.name for p in source.parent.glob("00_a*")) == ["00_a.py"]


def test_execute_notebook_needs_a_parameters_cell(tmp_path):
    source = tmp_path / "00_plain.py"
    source.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        book.execute_notebook(source, {}, tmp_path / "out.ipynb")
    assert not (tmp_path / "out.ipynb").exists()


# ---------------------------------------------------------------- command line
@pytest.mark.parametrize(
    "profile_text, args, message",
    [
        ("alpha: 1\nviews: 4\n", [], "'views' was renamed to 'photos_per_subject'"),
        ("alpha: 1\n", ["--set", "views=4"], "renamed to 'photos_per_subject'"),
        ("alpha: 1\ngamma: 2\n", [], "no notebook declares"),
        ("alpha: 1\n", ["--set", "beta=2"], "'beta' is not a parameter"),
    ],
)
def test_the_command_line_explains_bad_parameters(
    repo, monkeypatch, capsys, profile_text, args, message
):
    write_profile(repo, "mine", profile_text)
    monkeypatch.chdir(repo)
    with pytest.raises(SystemExit) as exit_:
        book.main(["run", "--profile", "mine", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (repo / "book").exists()  # nothing was run


def test_install_static_assets_copies_plotly_and_mathjax(repo):
    pytest.importorskip("mathjax")
    import plotly

    copied = book.install_static_assets(repo)
    static = repo / "book" / "_static"
    assert copied == [static / "plotly.min.js", static / "mathjax" / "tex-svg.js"]
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert copied[0].read_bytes() == plotly_js.read_bytes()
    assert copied[1].stat().st_size > 100_000
