"""Running independent jobs in worker processes (registration of scans, faces and
heads of the identities, ARMSE scoring): on this machine's process pool, or on a Dask
cluster.

The **engine** says where the workers are:

* ``"local"`` (the default): ``workers`` processes spawned on this machine;
* a Dask scheduler's address, ``"tcp://host:8786"`` (what ``dask scheduler`` prints):
  the jobs go to that cluster's workers, as many at once as it has worker threads.
  Start the scheduler on one machine and ``dask worker tcp://host:8786 --nthreads 1``
  on each node (add ``--nworkers K`` for K processes per node), or get the workers from
  a batch system with dask-jobqueue (``SLURMCluster(...).scheduler_address``).

Dask distributed rather than Ray: it is pure Python and installs with pip
(``pip install 'facelib[cluster]'``), gives a ``LocalCluster`` for the tests, joins an
existing cluster with ``Client(address)`` and starts on SLURM/PBS/SGE with
dask-jobqueue; Ray brings a larger runtime with its own object store and
serialisation, which this job list (a few dozen pickled jobs per stage) does not need.

Either engine gives the same results, byte for byte: the jobs are pickled the same way,
each runs in a process whose BLAS/OpenMP use one thread (the local pool sets
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` to 1; Dask's
nanny does the same by default, ``distributed.nanny.pre-spawn-environ``, and the
workers are checked before any job is sent), and ``workers`` still cuts the work into
the same jobs. ``workers <= 1`` runs every job in this process on either engine.

The engine is a setting of :class:`facelib.world.build.DatasetConfig` and an argument
of the scoring (:func:`facelib.evaluation.table1.score_captures`); where none is given,
the environment variable ``FACELIB_ENGINE`` is read (:func:`default_engine`, the one
place it is read), so ``FACELIB_ENGINE=tcp://host:8786 make book`` builds the book's
data set and scores its Table 1 on a cluster.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import pickle
import uuid
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "LOCAL",
    "ENGINE_VARIABLE",
    "default_engine",
    "engine_problem",
    "check_engine",
    "process_map",
]

T = TypeVar("T")
R = TypeVar("R")

#: the engine that runs the jobs in processes of this machine
LOCAL = "local"
#: the environment variable that sets the engine where none is given
ENGINE_VARIABLE = "FACELIB_ENGINE"
#: seconds to wait for a Dask scheduler to answer, and for it to have a worker
CONNECT_TIMEOUT_S = 30.0

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")
_START_WORKERS = "dask worker {address} --nthreads 1"


def engine_problem(engine: object) -> str | None:
    """What is wrong with ``engine`` as an engine, or None when it is one: ``"local"``
    or a Dask scheduler address ``scheme://host:port`` (scheme tcp, tls, ucx, ws or
    wss)."""
    if not isinstance(engine, str):
        return f"engine={engine!r} is a {type(engine).__name__}, not a string"
    if engine == LOCAL:
        return None
    parsed = urlsplit(engine)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if (
        parsed.scheme not in _SCHEMES
        or not parsed.hostname
        or port is None
        or parsed.path not in ("", "/")
        or parsed.query
        or parsed.fragment
    ):
        return (
            f"engine={engine!r} is neither {LOCAL!r} nor a Dask scheduler address "
            "like 'tcp://host:8786' (the address `dask scheduler` prints)"
        )
    return None


def check_engine(engine: object) -> str:
    """``engine`` when it is one (see :func:`engine_problem`), else ValueError."""
    problem = engine_problem(engine)
    if problem:
        raise ValueError(problem)
    return engine  # type: ignore[return-value]


def default_engine() -> str:
    """The engine named by the environment variable ``FACELIB_ENGINE``, ``"local"``
    when it is unset or empty; a value that is not an engine is refused
    (ValueError)."""
    value = os.environ.get(ENGINE_VARIABLE, "").strip()
    if not value:
        return LOCAL
    problem = engine_problem(value)
    if problem:
        raise ValueError(
            f"the environment variable {ENGINE_VARIABLE}: {problem}; set it to a "
            f"scheduler's address or unset it"
        )
    return value


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


def process_map(
    fn: Callable[[T], R],
    jobs: Sequence[T],
    workers: int,
    engine: str = LOCAL,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> list[R]:
    """``[fn(job) for job in jobs]``, in ``workers`` spawned processes with one thread
    each, or on the Dask cluster whose scheduler is at ``engine`` (see the module doc);
    in this process when ``workers <= 1`` or there is at most one job. ``fn`` must be
    a module-level function; results keep the order of ``jobs``.

    ``connect_timeout_s``: how long to wait for the scheduler to answer and to have a
    worker; an unreachable scheduler, one without workers, and workers that do not run
    one BLAS thread each are refused with what to do."""
    check_engine(engine)
    if workers <= 1 or len(jobs) < 2:
        return [fn(job) for job in jobs]
    if engine != LOCAL:
        return _cluster_map(fn, jobs, engine, connect_timeout_s)
    ctx = multiprocessing.get_context("spawn")
    with (
        _one_thread_per_process(),
        concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx
        ) as pool,
    ):
        return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _run_pickled(payload: bytes) -> Any:
    """One job on a Dask worker: ``fn(job)`` of the pickled ``(fn, job)``."""
    fn, job = pickle.loads(payload)
    return fn(job)


def _thread_settings() -> dict[str, str | None]:
    """The BLAS/OpenMP thread variables of this process (run on each Dask worker)."""
    return {n: os.environ.get(n) for n in _THREAD_VARIABLES}


def _cluster_map(
    fn: Callable[[T], R], jobs: Sequence[T], address: str, timeout_s: float
) -> list[R]:
    """:func:`process_map` on the Dask cluster whose scheduler is at ``address``.

    Each job travels pickled with :mod:`pickle`, as it does to the local pool (not as
    a Dask task, whose arguments Dask would look into), under a key named after
    ``fn`` (the dashboard's task names)."""
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError(
            f"engine={address!r} runs the jobs on a Dask cluster, but Dask's "
            "'distributed' package is not installed here: pip install "
            "'facelib[cluster]' (or 'dask[distributed]'), or use the engine "
            f"{LOCAL!r}"
        ) from err
    start = _START_WORKERS.format(address=address)
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise ConnectionError(
            f"no Dask scheduler answered at {address} within {timeout_s:g} s ({err}): "
            f"start one on that machine with `dask scheduler` and its workers with "
            f"`{start}`, fix the address, or use the engine {LOCAL!r} (unset "
            f"{ENGINE_VARIABLE})"
        ) from err
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except (OSError, TimeoutError) as err:
            raise ConnectionError(
                f"the Dask scheduler at {address} has had no worker for "
                f"{timeout_s:g} s: start them with `{start}` on each node"
            ) from err
        try:
            settings = client.run(_thread_settings)
        except Exception as err:
            raise RuntimeError(
                f"the Dask workers of {address} could not run facelib ({err}): install "
                "the same facelib (and Python packages) on every worker"
            ) from err
        many = sorted(
            w for w, env in settings.items() if any(v != "1" for v in env.values())
        )
        if many:
            raise RuntimeError(
                f"Dask workers {many} of {address} do not run one BLAS/OpenMP thread "
                f"each ({', '.join(_THREAD_VARIABLES)} must be 1, which Dask's nanny "
                "sets by default); results would differ in the last bits from the "
                f"local pool's: start the workers with `{start}` (keep the nanny) or "
                "set those variables to 1 in the workers' environment"
            )
        token = uuid.uuid4().hex
        payloads = [pickle.dumps((fn, job)) for job in jobs]
        keys = [f"{fn.__name__}-{i}-{token}" for i in range(len(jobs))]
        futures = client.map(_run_pickled, payloads, key=keys, pure=False)
        return client.gather(futures)
