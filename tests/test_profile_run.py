"""benchmarks/profile_run.py: a profile's chain without Jupyter, stage by stage, on a
tiny smoke data set in a temporary root; a budget stops it between stages, and a second
call with overwrite=false finishes what the first left, reusing its files."""

import json

from benchmarks.profile_run import main, network_starts
from facelib.evaluation.table1 import ROWS
from facelib.storage import verify_checksum

TINY = [
    "n_subjects=30",
    "n_registered=1",
    "n_capture_subjects=2",
    "sv_epochs=1",
    "mv_epochs=1",
    "shape_epochs=1",
    "max_steps_per_epoch=2",
    "batch_size=4",
]
CHAIN = ["dataset", *network_starts, "table1", "real_face"]


def read(path):
    verify_checksum(path)
    return json.loads(path.read_text())


def test_a_budget_stops_between_stages(tmp_path):
    record = main(["--profile", "smoke", "--root", str(tmp_path), "--budget-s", "0"])
    assert record["stages"] == {} and record["not_run"][-len(CHAIN) :] == CHAIN
    assert read(tmp_path / "runs" / "smoke" / "profile_run.json") == json.loads(
        json.dumps(record)
    )
    assert not (tmp_path / "data").exists()


def test_the_chain_runs_and_a_second_call_finishes_it(tmp_path):
    first = main(
        ["--profile", "smoke", "--root", str(tmp_path), "--no-throughput"]
        + ["--out", str(tmp_path / "first"), "--set", *TINY]
    )
    assert list(first["stages"]) == ["machine", *CHAIN] and "not_run" not in first
    table = {r["row"]: r for r in first["stages"]["table1"]["result"]}
    assert list(table) == list(ROWS) and table["3DMM Mean"]["improvement"] == 0.0
    real = {r["row"]: r for r in first["stages"]["real_face"]["result"]}
    assert list(real) == list(ROWS)
    for name in network_starts:
        assert first["stages"][name]["result"]["epochs"] == 1
    # again without overwriting: the data set is loaded, the networks reused, and
    # Table 1 comes out the same
    second = main(
        ["--profile", "smoke", "--root", str(tmp_path), "--no-throughput"]
        + ["--set", *TINY, "overwrite=false"]
    )
    assert second["stages"]["table1"]["result"] == first["stages"]["table1"]["result"]
    assert (
        second["stages"]["dataset"]["seconds"] < first["stages"]["dataset"]["seconds"]
    )
    assert read(tmp_path / "first" / "profile_run.json")["profile"] == "smoke"
