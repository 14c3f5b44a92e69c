"""facelib.parallel: process_map keeps the order, uses one thread per worker and
restores the environment, on the local pool and on a Dask cluster; bad engines and
unreachable clusters are explained."""

import math
import os
import socket
import time

import pytest

from facelib.parallel import default_engine, engine_problem, process_map


def test_same_results_in_order_with_and_without_workers():
    jobs = [float(x) for x in range(7)]
    assert (
        process_map(math.sqrt, jobs, 2)
        == process_map(math.sqrt, jobs, 1)
        == [math.sqrt(x) for x in jobs]
    )


def test_workers_run_one_thread_and_the_environment_is_restored(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert process_map(os.getenv, ["OMP_NUM_THREADS", "MKL_NUM_THREADS"], 2) == [
        "1",
        "1",
    ]
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ


def test_a_dask_cluster_keeps_the_order_and_runs_one_thread(dask_cluster):
    address = dask_cluster.scheduler_address
    jobs = [float(x) for x in range(7)]
    assert process_map(math.sqrt, jobs, 2, address) == [math.sqrt(x) for x in jobs]
    names = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]
    assert process_map(os.getenv, names, 2, address) == ["1", "1", "1"]
    assert dask_cluster.scheduler.task_prefixes["sqrt"].state_counts["memory"] == 7
    with pytest.raises(ValueError, match="math domain error"):  # a job's error
        process_map(math.log, [1.0, 0.0], 2, address)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_named_with_what_to_do():
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    tick = time.perf_counter()
    with pytest.raises(ConnectionError, match="no Dask scheduler answered") as err:
        process_map(math.sqrt, [1.0, 4.0], 2, address, connect_timeout_s=1.0)
    assert time.perf_counter() - tick < 10
    message = str(err.value)
    assert address in message and "`dask scheduler`" in message
    assert f"`dask worker {address} --nthreads 1`" in message
    assert "'local'" in message and "FACELIB_ENGINE" in message


def test_a_scheduler_without_workers_and_workers_with_many_threads_are_refused(
    monkeypatch,
):
    distributed = pytest.importorskip("distributed")
    kw = dict(processes=False, protocol="tcp", dashboard_address=":0", host="127.0.0.1")
    with distributed.LocalCluster(n_workers=0, **kw) as empty:
        with pytest.raises(ConnectionError, match="has had no worker for 1 s"):
            process_map(
                math.sqrt, [1.0, 4.0], 2, empty.scheduler_address, connect_timeout_s=1
            )
    # a worker thread in this process, whose environment asks for 4 BLAS threads
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, **kw) as many:
        with pytest.raises(RuntimeError, match="do not run one BLAS/OpenMP thread"):
            process_map(math.sqrt, [1.0, 4.0], 2, many.scheduler_address)


@pytest.mark.parametrize(
    "engine",
    ["localhost:8786", "tcp://host", "tcp://:8786", "http://host:8786", "Local", 8786],
)
def test_what_is_not_an_engine_is_explained(engine):
    with pytest.raises(ValueError, match="engine=") as err:
        process_map(math.sqrt, [1.0, 4.0], 2, engine)
    assert engine_problem(engine) == str(err.value)
    assert engine_problem("local") is engine_problem("tls://10.0.0.1:8786") is None


def test_the_environment_variable_sets_the_default_engine(monkeypatch):
    monkeypatch.delenv("FACELIB_ENGINE", raising=False)
    assert default_engine() == "local"
    monkeypatch.setenv("FACELIB_ENGINE", " tcp://node1:8786 ")
    assert default_engine() == "tcp://node1:8786"
    monkeypatch.setenv("FACELIB_ENGINE", "node1:8786")
    with pytest.raises(ValueError, match="environment variable FACELIB_ENGINE"):
        default_engine()
