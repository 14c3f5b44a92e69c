"""The notebooks as a project: every jupytext pair in sync, every parameter file valid.

(nbval itself re-executes the .ipynb twins against their stored outputs: `make test`.)
"""

from pathlib import Path

import jupytext
import papermill
import pytest
import yaml

from facelib.book import notebook_sources, repo_root

ROOT = repo_root(Path(__file__).parent)
SOURCES = notebook_sources(ROOT)
PROFILES = sorted((ROOT / "notebooks" / "params").glob("*.yaml"))


def test_there_are_notebooks_and_profiles():
    assert [s.stem for s in SOURCES][:1] == ["00_method"]
    assert {p.stem for p in PROFILES} == {"smoke", "cpu", "gpu", "paper"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pair_in_sync(source):
    twin = source.with_suffix(".ipynb")
    assert twin.is_file(), f"{twin.name} is missing: run `make sync`"
    py, ipynb = jupytext.read(source), jupytext.read(twin)
    cells_py = [(c.cell_type, c.source.strip()) for c in py.cells]
    cells_ipynb = [(c.cell_type, c.source.strip()) for c in ipynb.cells]
    assert cells_py == cells_ipynb, (
        f"{source.name} and {twin.name} differ: run `make sync` and commit both"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_twin_holds_executed_smoke_outputs(source):
    nb = jupytext.read(source.with_suffix(".ipynb"))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), (
        f"{source.stem}.ipynb has unexecuted cells: run `make sync`"
    )
    assert not any(
        o.get("output_type") == "error" for c in code for o in c.get("outputs", [])
    )
    assert not any(
        "papermill" in c.metadata.get("tags", [])
        or "injected-parameters" in c.metadata.get("tags", [])
        for c in nb.cells
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_skeleton(source):
    nb = jupytext.read(source)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{source.name} needs exactly one cell tagged 'parameters'"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**Overview.**" in text and "## Summary" in text


def declared_parameters():
    declared = {}
    for source in SOURCES:
        nb = jupytext.read(source)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        scope: dict = {}
        exec(cell.source, scope)  # the parameters cell holds plain assignments
        declared[source.stem] = {
            k: v for k, v in scope.items() if not k.startswith("__")
        }
    return declared


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_profile_files_name_only_declared_parameters(profile):
    params = yaml.safe_load(profile.read_text())
    assert isinstance(params, dict) and params.get("profile") == profile.stem
    declared = declared_parameters()
    known = set().union(*(d.keys() for d in declared.values()))
    unknown = set(params) - known
    assert not unknown, (
        f"{profile.name} sets parameters no notebook declares: {sorted(unknown)}"
    )
    for stem, names in declared.items():
        for name, default in names.items():
            if name in params and default is not None:
                assert type(params[name]) is type(default), (
                    f"{profile.name}: {name} should be {type(default).__name__}"
                )


def test_smoke_profile_is_the_notebook_defaults():
    params = yaml.safe_load((ROOT / "notebooks" / "params" / "smoke.yaml").read_text())
    for stem, names in declared_parameters().items():
        for name, default in names.items():
            assert params.get(name) == default, (
                f"smoke.yaml {name}={params.get(name)!r}, {stem} default {default!r}"
            )


def test_papermill_sees_the_parameters(tmp_path):
    for source in SOURCES:
        path = tmp_path / f"{source.stem}.ipynb"
        jupytext.write(jupytext.read(source), path)
        assert set(papermill.inspect_notebook(str(path))) == set(
            declared_parameters()[source.stem]
        )


def test_environment_yml_lists_the_project_dependencies():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = (
        project["dependencies"]
        + project["optional-dependencies"]["book"]
        + project["optional-dependencies"]["test"]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = " ".join(
        str(d) if not isinstance(d, dict) else " ".join(d["pip"])
        for d in env["dependencies"]
    )
    for req in wanted:
        name = req.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        assert name in listed, f"environment.yml does not list {name}"


def test_parameter_overrides_are_parsed_as_yaml_and_checked():
    from facelib.book import parse_overrides

    params = {"sv_epochs": 12, "device": "cpu", "width": 0.25}
    assert parse_overrides(["sv_epochs=3", "device=cuda", "width=1.0"], params) == {
        "sv_epochs": 3,
        "device": "cuda",
        "width": 1.0,
    }
    with pytest.raises(ValueError, match="not a parameter"):
        parse_overrides(["epochs=3"], params)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_overrides(["sv_epochs"], params)
