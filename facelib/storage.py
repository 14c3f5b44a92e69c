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

__all__ = ["atomic_write", "file_sha256", "write_json"]


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


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
