"""Running independent jobs in worker processes (registration of scans, ARMSE
scoring)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
from typing import Callable, Iterator, Sequence, TypeVar

__all__ = ["process_map"]

T = TypeVar("T")
R = TypeVar("R")

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_per_process() -> Iterator[None]:
    """Worker processes started inside this block use one BLAS/OpenMP thread each:
    ``workers`` processes that each started a thread per core would oversubscribe a
    many-core machine (seen: a 16-core machine stalled)."""
    saved = {n: os.environ.get(n) for n in _THREAD_VARIABLES}
    os.environ.update({n: "1" for n in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def process_map(fn: Callable[[T], R], jobs: Sequence[T], workers: int) -> list[R]:
    """``[fn(job) for job in jobs]``, in ``workers`` spawned processes with one thread
    each (in this process when ``workers <= 1`` or there is at most one job). ``fn``
    must be a module-level function; results keep the order of ``jobs``."""
    if workers <= 1 or len(jobs) < 2:
        return [fn(job) for job in jobs]
    ctx = multiprocessing.get_context("spawn")
    with (
        _one_thread_per_process(),
        concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx
        ) as pool,
    ):
        return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
