"""Atomic file writes: a temporary file in the target's folder, renamed into place.

An interrupted write leaves the previous file (or none), never a half-written one; the temporary
file is removed whatever happens.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)`` and rename the result to ``path``; returns ``path``.

    The temporary name ends like ``path`` (``.tmp.npz`` for ``.npz``), for writers that look at suffixes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
