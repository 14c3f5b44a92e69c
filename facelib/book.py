"""Executing the book's notebooks with papermill, one profile at a time.

``python -m facelib.book run --profile cpu`` (what ``make notebooks`` calls) takes every
paired jupytext source ``notebooks/NN_name.py`` in order, injects the parameters of
``notebooks/params/<profile>.yaml`` that the notebook declares in its ``parameters``
cell, executes it with papermill and writes the executed notebook to
``book/executed/NN_name.ipynb``, where the Jupyter Book picks it up. A parameter file
(or a ``--set`` override) may name only parameters that some notebook declares; a name
that was renamed (:func:`renamed_parameters`) is refused with its new name. The paired
``.ipynb`` twins next to the sources are never written (papermill's injected cell would
leak back into the ``.py``). Wall times per notebook go to
``runs/<profile>/notebook_times.json``. plotly.js (from the installed plotly package)
and MathJax (from the ``django-static-mathjax`` package, which ships MathJax 3 as plain
files) are copied into ``book/_static/`` so that the built book needs no network.
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

from facelib.storage import atomic_write

__all__ = [
    "repo_root",
    "notebook_sources",
    "notebook_parameters",
    "renamed_parameters",
    "load_profile",
    "parse_overrides",
    "execute_notebook",
    "install_static_assets",
    "main",
]

PROFILES = ("smoke", "cpu", "paper")


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


def notebook_parameters(source: Path) -> list[str]:
    """The names that the jupytext source assigns in its cell tagged ``parameters``
    (``# %% tags=["parameters"]``), in order; the values papermill may inject."""
    import jupytext

    nb = jupytext.read(source)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(
            f"{source} has no cell tagged 'parameters'; papermill needs one"
        )
    names: list[str] = []
    for cell in cells:
        for node in ast.parse(cell.source, filename=str(source)).body:
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in names:
                    names.append(target.id)
    return names


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

    Refuses a file that is not a mapping, old parameter names (naming the new ones) and
    names that no notebook declares in its ``parameters`` cell (listing the known ones).
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
    return params


def parse_overrides(items: list[str], params: dict) -> dict:
    """``["name=value", ...]`` (values parsed as YAML) as a dict; every name must be a
    parameter of the profile (an old name is refused with its new one)."""
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
        out[name] = yaml.safe_load(value)
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
    try:
        params = load_profile(root, args.profile)
        params.setdefault("profile", args.profile)
        params.update(parse_overrides(args.set, params))
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
    times = json.loads(times_path.read_text()) if times_path.is_file() else {}
    for source in sources:
        print(f"[{args.profile}] {source.stem} ...", flush=True)
        seconds = execute_notebook(source, params, out_dir / f"{source.stem}.ipynb")
        times[source.stem] = round(seconds, 1)
        print(f"[{args.profile}] {source.stem}: {seconds:.1f} s", flush=True)
    times_path.parent.mkdir(parents=True, exist_ok=True)
    times_path.write_text(json.dumps(times, indent=2) + "\n")
    print(
        f"wall time per notebook ({args.profile}): {json.dumps(times)} -> {times_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
