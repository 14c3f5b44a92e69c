"""Writing and verifying files: atomic writes, checksums, JSON.

Every file the project writes goes through :func:`atomic_write`: a temporary file in the
target's folder, renamed into place. An interrupted write leaves the previous file (or
none), never a half-written one; the temporary file is removed whatever happens.
:func:`file_sha256` is the one checksum of data sets and checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

__all__ = [
    "atomic_write",
    "file_sha256",
    "write_json",
    "read_json",
    "write_checksum",
    "verify_checksum",
]


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)`` and rename the result to ``path``; returns
    ``path``.

    The temporary name ends like ``path`` (``.tmp.npz`` for ``.npz``), for writers that
    look at suffixes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=path.name, suffix=".tmp" + path.suffix, dir=path.parent
    )
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically; returns the path."""
    text = json.dumps(obj, indent=1)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_json(path: str | Path, fix: str = "the file is damaged") -> dict:
    """A JSON object written by :func:`write_json`; a file that is not
    valid JSON or holds no object is a ValueError that ends with ``fix``."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): {fix}") from err
    if not isinstance(obj, dict):
        raise ValueError(
            f"{path} must hold a JSON object, got {type(obj).__name__}: {fix}"
        )
    return obj


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_checksum(path: str | os.PathLike) -> Path:
    """Record the SHA-256 of the file ``path`` beside it, in ``<name>.sha256``
    (``sha256sum``'s format: the digest, two spaces, the file's name), atomically;
    returns the record's path. :func:`verify_checksum` checks it."""
    path = Path(path)
    line = f"{file_sha256(path)}  {path.name}\n"
    return atomic_write(_sidecar(path), lambda tmp: Path(tmp).write_text(line))


def verify_checksum(path: str | os.PathLike) -> Path:
    """Check the file ``path`` against the digest :func:`write_checksum` recorded
    beside it; returns ``path``. Raises ``FileNotFoundError`` when the file or its
    record is missing and ``ValueError`` when they disagree (the file was damaged or
    edited)."""
    path = Path(path)
    record = _sidecar(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}")
    if not record.is_file():
        raise FileNotFoundError(
            f"{path} has no checksum record {record.name} beside it, so it cannot be "
            "trusted; write it again with the code that made it"
        )
    fields = record.read_text().split()
    if len(fields) != 2 or fields[1] != path.name or len(fields[0]) != 64:
        raise ValueError(
            f"{record} is not a checksum record of {path.name} ('<sha256>  <name>'); "
            f"write {path.name} again with the code that made it"
        )
    if file_sha256(path) != fields[0]:
        raise ValueError(
            f"{path} does not match its checksum in {record.name} (damaged or edited "
            "since it was written); write it again with the code that made it"
        )
    return path
