"""Executing the book's notebooks with papermill, one profile at a time.

``python -m facelib.book run --profile cpu`` (what ``make notebooks`` calls) takes every
paired jupytext source ``notebooks/NN_name.py`` in order, injects the parameters of
``notebooks/params/<profile>.yaml`` that the notebook declares in its ``parameters``
cell, executes it with papermill and writes the executed notebook to
``book/executed/NN_name.ipynb``, where the Jupyter Book picks it up. A parameter file
(or a ``--set`` override) may name only parameters that some notebook declares; a name
that was renamed (:func:`renamed_parameters`) is refused with its new name; a value
whose type is not that of the declared literal (:func:`notebook_parameter_types`: int,
float, bool or str; an int does for a float) is refused before any kernel starts. The
paired ``.ipynb`` twins next to the sources are never written (papermill's injected cell
would leak back into the ``.py``). Wall times per notebook go to
``runs/<profile>/notebook_times.json`` (with its checksum record beside it, checked
before the times are read back and merged). plotly.js (from the installed plotly
package) and MathJax (from the ``django-static-mathjax`` package, which ships MathJax 3
as plain files) are copied into ``book/_static/`` so that the built book needs no
network.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
import time
from pathlib import Path

from facelib.storage import atomic_write, verify_checksum, write_checksum

__all__ = [
    "repo_root",
    "notebook_sources",
    "notebook_parameters",
    "notebook_parameter_types",
    "parameter_types",
    "check_parameter_types",
    "renamed_parameters",
    "load_profile",
    "parse_overrides",
    "execute_notebook",
    "install_static_assets",
    "main",
]

PROFILES = ("smoke", "cpu", "gpu", "paper")


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The repository root: the nearest folder at or above ``start`` (default: the
    working directory) holding both ``_config.yml`` and the ``facelib`` package."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (
            folder / "facelib" / "__init__.py"
        ).is_file():
            return folder
    raise FileNotFoundError(
        "no facelib repository (a folder with _config.yml and facelib/) at or above "
        f"{here}; "
        "run from inside a clone of the repository"
    )


def notebook_sources(root: Path) -> list[Path]:
    """The jupytext sources ``notebooks/NN_*.py`` in book order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))


def _parameter_assignments(source: Path) -> list[tuple[str, ast.expr | None]]:
    """(name, value expression) of every assignment in the jupytext source's cells
    tagged ``parameters``, in order (``None`` for an annotation without a value)."""
    import jupytext

    nb = jupytext.read(source)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(
            f"{source} has no cell tagged 'parameters'; papermill needs one"
        )
    found = []
    for cell in cells:
        for node in ast.parse(cell.source, filename=str(source)).body:
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name):
                    found.append((target.id, node.value))
    return found


def notebook_parameters(source: Path) -> list[str]:
    """The names that the jupytext source assigns in its cell tagged ``parameters``
    (``# %% tags=["parameters"]``), in order; the values papermill may inject."""
    names: list[str] = []
    for name, _ in _parameter_assignments(source):
        if name not in names:
            names.append(name)
    return names


#: the parameter types that are checked, and how a value of each is spelled
_CHECKED_TYPES = {bool: "a bool", int: "an int", float: "a float", str: "a str"}


def notebook_parameter_types(source: Path) -> dict[str, tuple[type, object] | None]:
    """For every parameter of the jupytext source (:func:`notebook_parameters`), the
    type and value of the literal it is first assigned in the ``parameters`` cell:
    ``(int, 2)``, ``(float, 0.0001)``, ``(bool, True)`` or ``(str, "cpu")``; ``None``
    where the value is no such literal (``None``, a list, an expression): any value
    may replace it."""
    types: dict[str, tuple[type, object] | None] = {}
    for name, node in _parameter_assignments(source):
        if name in types:
            continue
        try:
            value = ast.literal_eval(node) if node is not None else None
        except ValueError:
            value = None
        types[name] = (type(value), value) if type(value) in _CHECKED_TYPES else None
    return types


def parameter_types(root: Path) -> dict[str, list[tuple[str, type, object]]]:
    """Every parameter that some notebook of ``root`` declares with a checked literal
    (:func:`notebook_parameter_types`): name -> ``[(notebook, type, literal), ...]``,
    one entry per declaring notebook (``notebooks/NN_name.py``)."""
    out: dict[str, list[tuple[str, type, object]]] = {}
    for source in notebook_sources(root):
        for name, typed in notebook_parameter_types(source).items():
            if typed is not None:
                where = f"{source.parent.name}/{source.name}"
                out.setdefault(name, []).append((where, *typed))
    return out


def _fits(value, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_parameter_types(
    params: dict, types: dict[str, list[tuple[str, type, object]]], where: str
) -> None:
    """Refuse (ValueError) a value of ``params`` whose type is not that of the literal
    the notebooks declare it with (``types``: :func:`parameter_types`; an int does for
    a float). The message names ``where``, the parameter, the notebook, the expected
    type and the value."""
    for name, value in params.items():
        for notebook, kind, literal in types.get(name, []):
            if _fits(value, kind):
                continue
            hint = ""
            if kind in (int, float) and isinstance(value, str):
                try:
                    number = float(value)
                except ValueError:
                    number = None
                if number is not None and (kind is float or number.is_integer()):
                    spelled = repr(number if kind is float else int(number))
                    hint = f" (YAML reads {value!r} as text: write {spelled})"
            if kind is str and isinstance(value, (int, float, bool)):
                hint = f" (YAML reads {value!r} as {type(value).__name__}: quote it)"
            raise ValueError(
                f"{where}: {name} must be {_CHECKED_TYPES[kind]}"
                f"{' (an int will do)' if kind is float else ''}, as {notebook} "
                f"declares it ({name} = {literal!r}), got {value!r} "
                f"({type(value).__name__}){hint}; give {name} {_CHECKED_TYPES[kind]} "
                f"value, e.g. {_example(literal)}"
            )


def _example(literal) -> str:
    if isinstance(literal, bool):
        return "true" if literal else "false"
    return str(literal)


def renamed_parameters() -> dict[str, str]:
    """Parameters renamed since an earlier version: old name -> new name.

    The one mapping is :data:`facelib.world.build.RENAMED` (imported here when needed,
    so that importing this module stays light).
    """
    from facelib.world.build import RENAMED

    return dict(RENAMED)


def _refuse_renamed(names, where: str) -> None:
    renamed = renamed_parameters()
    old = [name for name in names if name in renamed]
    if old:
        raise ValueError(
            f"{where}: "
            + "; ".join(f"{name!r} was renamed to {renamed[name]!r}" for name in old)
            + " (use the new name)"
        )


def load_profile(root: Path, profile: str) -> dict:
    """The parameters of ``notebooks/params/<profile>.yaml`` as a dict.

    Refuses a file that is not a mapping, old parameter names (naming the new ones),
    names that no notebook declares in its ``parameters`` cell (listing the known ones)
    and values of another type than the notebooks' literals
    (:func:`check_parameter_types`).
    """
    import yaml

    path = root / "notebooks" / "params" / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "notebooks" / "params").glob("*.yaml"))
        raise FileNotFoundError(f"no parameter file {path}; known profiles: {known}")
    params = yaml.safe_load(path.read_text()) or {}
    if not isinstance(params, dict):
        raise ValueError(
            f"{path} must be a mapping of parameter names to values, got "
            f"{type(params).__name__}"
        )
    _refuse_renamed(params, str(path))
    declared = {
        name
        for source in notebook_sources(root)
        for name in notebook_parameters(source)
    }
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ValueError(
            f"{path} sets {unknown}, which no notebook declares in its 'parameters' "
            f"cell; known parameters: {sorted(declared)}"
        )
    check_parameter_types(params, parameter_types(root), str(path))
    return params


def parse_overrides(
    items: list[str],
    params: dict,
    types: dict[str, list[tuple[str, type, object]]] | None = None,
) -> dict:
    """``["name=value", ...]`` (values parsed as YAML) as a dict; every name must be a
    parameter of the profile (an old name is refused with its new one) and, with
    ``types`` (:func:`parameter_types`), every value of the type the notebooks declare
    it with (:func:`check_parameter_types`)."""
    import yaml

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        _refuse_renamed([name], f"--set {item}")
        if name not in params:
            raise ValueError(
                f"{name!r} is not a parameter of this profile; known: {sorted(params)}"
            )
        try:
            out[name] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ValueError(
                f"--set {item}: the value is not valid YAML ({err}); quote it"
            ) from None
        if types is not None:
            check_parameter_types({name: out[name]}, types, f"--set {item}")
    return out


def execute_notebook(
    source: Path, parameters: dict, output: Path, *, kernel: str = "python3"
) -> float:
    """Execute the jupytext source with papermill, writing ``output`` atomically;
    returns seconds.

    Only the parameters that the notebook declares in its ``parameters`` cell are
    injected. The kernel runs in the notebook's folder, as under JupyterLab and nbval.
    """
    import jupytext
    import papermill

    declared = notebook_parameters(source)
    nb = jupytext.read(source)
    injected = {k: v for k, v in parameters.items() if k in declared}
    start = time.perf_counter()
    atomic_write(
        output,
        lambda tmp: papermill.execute_notebook(
            nb,
            tmp,
            parameters=injected,
            kernel_name=kernel,
            cwd=str(source.parent),
            progress_bar=False,
        ),
    )
    return time.perf_counter() - start


def install_static_assets(root: Path) -> list[Path]:
    """Copy plotly.min.js and MathJax's self-contained ``tex-svg.js`` into
    ``book/_static/``.

    Both come from installed Python packages, so the built book renders its interactive
    figures and its equations with no network.
    """
    import importlib.util

    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "MathJax is missing: pip install django-static-mathjax (see "
            "pyproject.toml, extra 'book')"
        )
    mathjax_js = (
        Path(spec.submodule_search_locations[0])
        / "static"
        / "mathjax"
        / "es5"
        / "tex-svg.js"
    )
    copied = []
    for src, rel in ((plotly_js, "plotly.min.js"), (mathjax_js, "mathjax/tex-svg.js")):
        if not src.is_file():
            raise FileNotFoundError(
                f"{src} is missing: reinstall the package that ships it"
            )
        dst = root / "book" / "_static" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied.append(dst)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facelib.book", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="execute the notebooks with papermill for one profile"
    )
    run.add_argument(
        "--profile",
        default="cpu",
        help=f"one of {', '.join(PROFILES)} (notebooks/params/<profile>.yaml)",
    )
    run.add_argument(
        "--only", nargs="*", default=None, help="notebook stems to run (default: all)"
    )
    run.add_argument(
        "--output-dir",
        default=None,
        help="where executed notebooks go (default: book/executed)",
    )
    run.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help=(
            "override parameters of the profile, e.g. --set sv_epochs=3 device=cuda "
            "(values are YAML)"
        ),
    )
    args = parser.parse_args(argv)

    root = repo_root()
    try:  # every parameter is checked here, before any kernel starts
        params = load_profile(root, args.profile)
        params.setdefault("profile", args.profile)
        params.update(parse_overrides(args.set, params, parameter_types(root)))
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    out_dir = Path(args.output_dir) if args.output_dir else root / "book" / "executed"
    sources = notebook_sources(root)
    if args.only:
        unknown = set(args.only) - {s.stem for s in sources}
        if unknown:
            parser.error(
                f"unknown notebooks {sorted(unknown)}; known: "
                f"{[s.stem for s in sources]}"
            )
        sources = [s for s in sources if s.stem in args.only]
    install_static_assets(root)
    times_path = root / "runs" / args.profile / "notebook_times.json"
    times = (
        json.loads(verify_checksum(times_path).read_text())
        if times_path.is_file()
        else {}
    )
    for source in sources:
        print(f"[{args.profile}] {source.stem} ...", flush=True)
        seconds = execute_notebook(source, params, out_dir / f"{source.stem}.ipynb")
        times[source.stem] = round(seconds, 1)
        print(f"[{args.profile}] {source.stem}: {seconds:.1f} s", flush=True)
    text = json.dumps(times, indent=2) + "\n"
    write_checksum(atomic_write(times_path, lambda tmp: Path(tmp).write_text(text)))
    print(
        f"wall time per notebook ({args.profile}): {json.dumps(times)} -> {times_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
