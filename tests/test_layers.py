"""The layers of facelib, read from the source with ``ast`` (nothing is imported).

geometry is the bottom layer; data (the on-disk record) stands on geometry, storage and
parallel; the face world writes data; learning and evaluation read it; only ``viz`` and
``book`` draw. Every import counts: module-level, inside functions, relative, under
``TYPE_CHECKING``, and ``importlib.import_module("...")`` with a literal name.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "facelib"

CORE = (
    "facelib.geometry",
    "facelib.graphics",
    "facelib.real",
    "facelib.data",
    "facelib.world",
    "facelib.learn",
    "facelib.evaluation",
    "facelib.reconstruct",
    "facelib.storage",
    "facelib.parallel",
)

#: rule name -> (the modules it binds, "forbid" or "only", the module prefixes). An
#: "only" rule limits imports from facelib; the root package ``facelib`` (its
#: ``__init__``, which imports nothing of facelib: see below) is always allowed.
RULES = {
    "geometry imports no higher layer": (
        ("facelib.geometry",),
        "forbid",
        (
            "facelib.graphics",
            "facelib.real",
            "facelib.world",
            "facelib.data",
            "facelib.learn",
            "facelib.evaluation",
            "facelib.viz",
            "facelib.book",
        ),
    ),
    "data imports only geometry, data, storage and parallel": (
        ("facelib.data",),
        "only",
        ("facelib.geometry", "facelib.data", "facelib.storage", "facelib.parallel"),
    ),
    "graphics imports only geometry": (
        ("facelib.graphics",),
        "only",
        ("facelib.geometry", "facelib.graphics"),
    ),
    "real imports only geometry, data and storage": (
        ("facelib.real",),
        "only",
        ("facelib.geometry", "facelib.data", "facelib.storage", "facelib.real"),
    ),
    "learn does not import world or evaluation": (
        ("facelib.learn",),
        "forbid",
        ("facelib.world", "facelib.evaluation"),
    ),
    "evaluation does not import world": (
        ("facelib.evaluation",),
        "forbid",
        ("facelib.world",),
    ),
    "world does not import learn or evaluation": (
        ("facelib.world",),
        "forbid",
        ("facelib.learn", "facelib.evaluation"),
    ),
    "reconstruct stands on learn and real, not on world or evaluation": (
        ("facelib.reconstruct",),
        "forbid",
        ("facelib.world", "facelib.evaluation", "facelib.cli"),
    ),
    "nothing but the command's entry points import the command": (
        tuple(c for c in CORE),
        "forbid",
        ("facelib.cli", "facelib.__main__"),
    ),
    "only viz and book draw": (
        CORE,
        "forbid",
        ("matplotlib", "plotly", "facelib.viz", "facelib.book"),
    ),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    file: str  # its path from the folder above the package
    line: int
    target: str  # the imported module

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def modules(package: Path) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` under ``package``."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def imports_of(module: str, path: Path, known: set[str], file: str) -> list[Import]:
    """Every import in the file, wherever it sits; ``from X import y`` imports the
    module ``X.y`` when that is one of ``known``, else ``X``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        elif (
            isinstance(node, ast.Call)
            and _dotted(node.func)
            in ("importlib.import_module", "import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        found += [Import(module, file, node.lineno, t) for t in targets]
    return sorted(found, key=lambda i: i.line)


def all_imports(package: Path) -> list[Import]:
    mods = modules(package)
    return [
        i
        for m, p in mods.items()
        for i in imports_of(m, p, set(mods), p.relative_to(package.parent).as_posix())
    ]


def violations(imports: list[Import], rule: str) -> list[str]:
    sources, kind, prefixes = RULES[rule]
    out = []
    for imp in imports:
        if not any(within(imp.module, s) for s in sources):
            continue
        hit = any(within(imp.target, p) for p in prefixes)
        if kind == "only":
            bad = within(imp.target, "facelib") and imp.target != "facelib" and not hit
        else:
            bad = hit
        if bad:
            out.append(f"{imp.where()}: {imp.module} imports {imp.target}")
    return out


@pytest.fixture(scope="module")
def imports():
    return all_imports(PACKAGE)


def test_the_scan_sees_the_package(imports):
    mods = modules(PACKAGE)
    assert {"facelib.geometry.camera", "facelib.data.dataset", "facelib.viz"} <= set(
        mods
    )
    edges = {(i.module, i.target) for i in imports}
    # a module-level import, and one inside viz's functions
    assert ("facelib.world.build", "facelib.data.dataset") in edges
    assert ("facelib.viz", "matplotlib.pyplot") in edges


@pytest.mark.parametrize("rule", RULES)
def test_layer_rule(imports, rule):
    found = violations(imports, rule)
    assert not found, f"{rule}: {len(found)} violation(s)\n" + "\n".join(found)


def test_the_root_package_imports_nothing_of_facelib(imports):
    """``import facelib`` (for ``__version__``) pulls in no layer."""
    found = [
        f"{i.where()}: facelib imports {i.target}"
        for i in imports
        if i.module == "facelib" and within(i.target, "facelib")
    ]
    assert not found, "\n".join(found)


def test_the_checker_catches_every_kind_of_import(tmp_path):
    """A made-up package with one forbidden import of each kind, and a clean module."""
    root = tmp_path / "facelib"
    files = {
        "__init__.py": "",
        "viz.py": "",
        "geometry/__init__.py": "",
        "geometry/clean.py": (
            "import numpy as np\n"
            "from facelib.storage import atomic_write\n"
            "from . import other\n"
        ),
        "geometry/other.py": "",
        "geometry/bad.py": (
            "import importlib\n"
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from facelib.data.dataset import Dataset\n"
            "def f():\n"
            "    import matplotlib.pyplot as plt\n"
            "    from ..world import scenes\n"
            "    from facelib import viz\n"
            "    return importlib.import_module('facelib.learn.nets')\n"
        ),
        "world/__init__.py": "",
        "world/scenes.py": "",
        "data/__init__.py": "",
        "data/dataset.py": "import facelib\nimport facelib.world.build\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    imports = all_imports(root)
    found = {rule: violations(imports, rule) for rule in RULES}
    bad = "facelib/geometry/bad.py"
    assert found["geometry imports no higher layer"] == [
        f"{bad}:4: facelib.geometry.bad imports facelib.data.dataset",
        f"{bad}:7: facelib.geometry.bad imports facelib.world.scenes",
        f"{bad}:8: facelib.geometry.bad imports facelib.viz",
        f"{bad}:9: facelib.geometry.bad imports facelib.learn.nets",
    ]
    assert found["only viz and book draw"] == [
        f"{bad}:6: facelib.geometry.bad imports matplotlib.pyplot",
        f"{bad}:8: facelib.geometry.bad imports facelib.viz",
    ]
    assert found["data imports only geometry, data, storage and parallel"] == [
        "facelib/data/dataset.py:2: facelib.data.dataset imports facelib.world.build"
    ]
    flagged = {v.split(":")[0] for v in sum(found.values(), [])}
    assert flagged == {bad, "facelib/data/dataset.py"}  # clean.py passes
