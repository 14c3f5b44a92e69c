"""facelib.parallel: process_map keeps the order, uses one thread per worker and
restores the environment."""

import math
import os

from facelib.parallel import process_map


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
