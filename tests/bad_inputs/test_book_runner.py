"""The book runner checks every parameter value against the type of the literal the
notebooks declare it with (int, float, bool, str; an int does for a float), in the
profile's YAML file and in ``--set`` overrides, and stops before any kernel starts.

Runs on a made-up repository in a temporary folder: two jupytext notebooks and a
parameter file.
"""

from types import SimpleNamespace

import pytest
import yaml

from facelib import book

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
# %% tags=["parameters"]
sv_epochs = 2  # an int
lr = 0.0001  # a float
overwrite = True
device = "cpu"
sizes = [32, 64]  # not a checked literal: anything goes
weights = None
scale = 2 * 3

# %%
print(sv_epochs)
"""
)

NOTEBOOK_B = (
    HEADER
    + """\
# %% tags=["parameters"]
device: str = "cpu"
shared = 1  # an int here ...

# %%
print(device)
"""
)

NOTEBOOK_C = (
    HEADER
    + """\
# %% tags=["parameters"]
shared = 0.5  # ... and a float here: an int fits both

# %%
print(shared)
"""
)


@pytest.fixture()
def repo(make_repo, tmp_path, monkeypatch):
    """A made-up repository with three notebooks and a parameter file ``ok.yaml``;
    the working directory; papermill and the static assets replaced by stubs that
    record what would run."""
    make_repo(
        {"00_a.py": NOTEBOOK_A, "01_b.py": NOTEBOOK_B, "02_c.py": NOTEBOOK_C},
        {
            "ok.yaml": "sv_epochs: 3\nlr: 0.001\noverwrite: false\ndevice: cuda\n"
            "shared: 2\nsizes: [8]\nweights: null\nscale: 1\n"
        },
    )
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(
        book,
        "execute_notebook",
        lambda source, params, output: ran.append((source.stem, dict(params))) or 0.1,
    )
    monkeypatch.setattr(book, "install_static_assets", lambda root: [])
    return SimpleNamespace(root=tmp_path, ran=ran)


def run(repo, *args) -> int:
    return book.main(
        ["run", "--profile", "ok", "--output-dir", str(repo.root / "out"), *args]
    )


def refused(repo, capsys, *args) -> str:
    """What the command line says when it refuses ``args``; nothing ran."""
    with pytest.raises(SystemExit) as exit_:
        run(repo, *args)
    assert exit_.value.code == 2
    assert repo.ran == []  # no kernel started
    return capsys.readouterr().err


def test_notebook_parameter_types_are_the_literals_types(repo):
    types = book.notebook_parameter_types(repo.root / "notebooks" / "00_a.py")
    assert types == {
        "sv_epochs": (int, 2),
        "lr": (float, 0.0001),
        "overwrite": (bool, True),
        "device": (str, "cpu"),
        "sizes": None,
        "weights": None,
        "scale": None,
    }
    assert book.parameter_types(repo.root)["shared"] == [
        ("notebooks/01_b.py", int, 1),
        ("notebooks/02_c.py", float, 0.5),
    ]


@pytest.mark.parametrize(
    "item, expected",
    [
        ("sv_epochs=abc", "an int"),
        ("sv_epochs=2.5", "an int"),
        ("sv_epochs=true", "an int"),
        ("sv_epochs=null", "an int"),
        ("lr=fast", "a float"),
        ("lr=false", "a float"),
        ("overwrite=1", "a bool"),
        ("overwrite=maybe", "a bool"),
        ("device=3", "a str"),
        ("device=[cpu]", "a str"),
        ("shared=0.5", "an int"),  # 01_b declares it an int
    ],
)
def test_a_set_value_of_the_wrong_type_stops_before_any_kernel(
    repo, capsys, item, expected
):
    name, _, value = item.partition("=")
    err = refused(repo, capsys, "--set", item)
    assert f"--set {item}: {name} must be {expected}" in err
    assert "declares it" in err and f"got {yaml.safe_load(value)!r}" in err
    assert f"give {name} {expected} value, e.g." in err


def test_the_message_names_the_notebook_and_its_literal(repo, capsys):
    err = refused(repo, capsys, "--set", "sv_epochs=abc")
    assert (
        "sv_epochs must be an int, as notebooks/00_a.py declares it (sv_epochs = 2), "
        "got 'abc' (str); give sv_epochs an int value, e.g. 2"
    ) in err


def test_a_number_yaml_reads_as_text_gets_a_hint(repo, capsys):
    err = refused(repo, capsys, "--set", "lr=1e-4")
    assert "lr must be a float (an int will do)" in err
    assert "YAML reads '1e-4' as text: write 0.0001" in err


@pytest.mark.parametrize(
    "items, injected",
    [
        (["lr=1"], {"lr": 1}),  # an int does for a float
        (["lr=1.0e-4", "sv_epochs=5"], {"lr": 1e-4, "sv_epochs": 5}),
        (["sizes=[1, 2]", "weights=w.st", "scale=7"], {"sizes": [1, 2], "scale": 7}),
        (["overwrite=true", "device=cpu"], {"overwrite": True, "device": "cpu"}),
    ],
)
def test_values_of_the_right_type_run(repo, items, injected):
    assert run(repo, "--set", *items) == 0
    params = dict(repo.ran)["00_a"]
    assert {k: params[k] for k in injected} == injected


@pytest.mark.parametrize(
    "line, expected",
    [
        ("sv_epochs: ten", "an int"),
        ("lr: '0.1'", "a float"),
        ("overwrite: 'yes'", "a bool"),
        ("device: 0", "a str"),
    ],
)
def test_a_profile_value_of_the_wrong_type_is_refused(repo, capsys, line, expected):
    path = repo.root / "notebooks" / "params" / "ok.yaml"
    name = line.split(":")[0]
    text = "".join(
        f"{line}\n" if row.startswith(f"{name}:") else f"{row}\n"
        for row in path.read_text().splitlines()
    )
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"ok\.yaml: {name} must be {expected}"):
        book.load_profile(repo.root, "ok")
    err = refused(repo, capsys)
    assert f"ok.yaml: {name} must be {expected}" in err


def test_a_number_for_a_text_parameter_says_to_quote_it(repo, capsys):
    err = refused(repo, capsys, "--set", "device=3")
    assert "device must be a str" in err and "YAML reads 3 as int: quote it" in err


def test_a_set_value_that_is_not_yaml_is_refused(repo, capsys):
    err = refused(repo, capsys, "--set", "sv_epochs=[1,")
    assert "--set sv_epochs=[1,: the value is not valid YAML" in err and "quote" in err


def test_parse_overrides_without_types_keeps_its_old_behaviour():
    assert book.parse_overrides(["n=abc"], {"n": 3}) == {"n": "abc"}
    with pytest.raises(ValueError, match="n must be an int"):
        book.parse_overrides(["n=abc"], {"n": 3}, {"n": [("nb.py", int, 3)]})
