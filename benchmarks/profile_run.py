"""A profile's chain without Jupyter, timed stage by stage: for a short GPU lease.

``make book PROFILE=gpu`` needs Jupyter, papermill and the book's tool chain; a lent GPU
machine has PyTorch but not those. This script runs the same library calls as the
chapters do with the same parameter file (``notebooks/params/<profile>.yaml``), in the
chapters' order, and writes what it measured after every stage, so that a run cut short
by its lease still brings back every finished stage::

    python -m benchmarks.profile_run --profile gpu --out OUT/
    python -m benchmarks.profile_run --profile smoke --set n_subjects=40  # on a laptop

Stages (each one's wall time in seconds is recorded):

* ``machine``: torch, the device, the CPU count.
* ``matmul_peak`` (CUDA only): the measured bf16 matrix-product rate (8192³, the mean of
  ten products after three warm-ups), the ceiling for the MFU below.
* ``throughput``: the training step of SV and MV Concat at the profile's image size and
  width, at its batch and four times it
  (:func:`facelib.learn.throughput.training_throughput`): images/s, FLOPs per image,
  MFU against the measured peak and against the datasheet's dense bf16 rate.
* ``dataset`` (chapter 01): :func:`facelib.world.build.build_dataset`; its seconds per
  build stage.
* ``SV``, ``MV Add``, ``MV Concat``, ``MV Shape-Concat`` (chapters 02, 03): training,
  each started from the checkpoint its chapter starts from; images/s, epochs and the
  kept epoch's validation metrics.
* ``table1`` (chapter 05): every capture reconstructed by every row and scored with
  ARMSE; the tables are written to ``runs/<profile>/`` as chapter 05 writes them.
* ``real_face`` (chapter 05, section 6): the real textured scan photographed at the
  data set's framing and reconstructed by every row.

``--budget-s`` stops before a stage once that many seconds have passed (the stages
left are listed as not run). The result is ``<out>/profile_run.json`` (atomic, with its
checksum record beside it). With ``overwrite=false`` an existing data set is loaded and
finished networks are reused, so that a second call finishes what a first one left.
``benchmarks/measured/`` keeps the records of runs on lent GPU machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from facelib import book
from facelib.learn.training import TrainConfig
from facelib.storage import write_checksum, write_json
from facelib.world.build import DatasetConfig

__all__ = [
    "DATASHEET_BF16_TFLOPS",
    "configurations",
    "network_starts",
    "matmul_peak_tflops",
    "main",
]

#: dense bf16 tensor-core rate of one H100/H200 SXM by NVIDIA's datasheet, TFLOP/s
DATASHEET_BF16_TFLOPS = 989.4

#: the checkpoint each network starts from, as chapters 02 and 03 start them
network_starts = {
    "SV": None,
    "MV Add": "SV",
    "MV Concat": "SV",
    "MV Shape-Concat": "MV Concat",
}


def configurations(params: dict, render_device: str | None = None) -> dict[str, object]:
    """The configurations that chapters 01-03 build from a profile's parameters: the
    data set's (key ``"data"``) and the four networks' (keys of
    :data:`network_starts`). ``render_device`` replaces the profile's (the data set's
    configuration refuses a CUDA device that torch cannot see)."""
    data = DatasetConfig(
        profile=params["profile"],
        seed=params["seed"],
        n_subjects=params["n_subjects"],
        image_size=params["image_size"],
        photos_per_subject=params["photos_per_subject"],
        n_registered=params["n_registered"],
        n_capture_subjects=params["n_capture_subjects"],
        capture_frames=params["capture_frames"],
        workers=params["workers"],
        render_device=render_device or params["render_device"],
    )
    common = dict(
        width=params["width"],
        batch_size=params["batch_size"],
        lr=params["lr"],
        patience=params["patience"],
        seed=params["seed"],
        device=params["device"],
        precision=params["precision"],
        max_steps_per_epoch=params["max_steps_per_epoch"] or None,
    )
    mv = dict(common, n_views=params["n_views"], ema_decay=params["mv_ema_decay"])
    return {
        "data": data,
        "SV": TrainConfig(
            network="sv",
            epochs=params["sv_epochs"],
            ema_decay=params["sv_ema_decay"],
            pose_warmup_epochs=params["pose_warmup_epochs"],
            **common,
        ),
        "MV Add": TrainConfig(
            network="mv", merge="add", epochs=params["mv_epochs"], **mv
        ),
        "MV Concat": TrainConfig(
            network="mv", merge="concat", epochs=params["mv_epochs"], **mv
        ),
        "MV Shape-Concat": TrainConfig(
            network="mv_shape", merge="concat", epochs=params["shape_epochs"], **mv
        ),
    }


def matmul_peak_tflops(device: str = "cuda", n: int = 8192) -> float:
    """The bf16 rate of an ``n x n x n`` matrix product on ``device``, TFLOP/s: the
    mean of ten products after three warm-ups, timed with CUDA events."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    start.record()
    for _ in range(10):
        a @ b
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / 10
    return 2 * n**3 / seconds / 1e12


def _throughput(params: dict, peak: float | None) -> list[dict]:
    from benchmarks.training_throughput import random_morphable_model
    from facelib.learn.throughput import training_throughput

    morphable_model = random_morphable_model(64)
    out = []
    for name in ("SV", "MV Concat"):
        for batch in (params["batch_size"], 4 * params["batch_size"]):
            r = training_throughput(
                name,
                morphable_model,
                image_size=params["image_size"],
                width=params["width"],
                n_views=params["n_views"],
                batch_size=batch,
                device=params["device"],
                steps=10,
                warmup=3,
                precision=params["precision"],
            )
            row = dict(vars(r), tflops=r.achieved_tflops())
            row["mfu_datasheet"] = r.mfu(DATASHEET_BF16_TFLOPS)
            if peak:
                row["mfu_measured_peak"] = r.mfu(peak)
            out.append(row)
            print(
                f"  {name} batch {batch}: {r.images_per_second:.0f} images/s, "
                f"{r.flops_per_image / 1e9:.1f} GFLOP/image, "
                f"{row['tflops']:.0f} TFLOP/s",
                flush=True,
            )
    return out


def _train_network(name, config, data, runs, overwrite) -> dict:
    from facelib.evaluation.captures import RUN_FOLDERS
    from facelib.learn.training import train

    start = network_starts[name]
    init = runs / RUN_FOLDERS[start] if start else None
    result = train(
        config,
        data,
        runs / RUN_FOLDERS[name],
        init=init,
        overwrite=overwrite,
        reuse_finished=True,
    )
    return {
        "images_per_second": result.images_per_second,
        "epochs": len(result.history),
        "validation": {k: float(v) for k, v in vars(result.metrics).items()},
    }


def _table1(data, runs, device, workers) -> tuple[list[dict], object]:
    from facelib.evaluation import captures
    from facelib.evaluation.table1 import write_tables

    networks = captures.load_networks(runs, data, device=device)
    evaluation = captures.evaluate_captures(data, networks, workers=workers)
    tables = evaluation.tables()
    write_tables(tables, runs)
    rows = [
        {
            "row": r.row,
            "armse_mm": r.mean,
            "std_mm": r.std,
            "improvement": r.improvement,
            "paper_improvement": r.paper_improvement,
        }
        for r in tables["both"]
    ]
    return rows, networks


def _real_face(data, networks) -> list[dict]:
    from facelib.evaluation.real_face import (
        photograph_in_data_framing,
        reconstruct_real_face,
    )
    from facelib.real.scan import load_james

    photos, posed = photograph_in_data_framing(load_james(), data)
    scores = reconstruct_real_face(photos, posed, data, networks)
    mean = float(np.mean(scores["3DMM Mean"]))
    return [
        {
            "row": row,
            "armse_mm": float(np.mean(s)),
            "std_mm": float(np.std(s)),
            "improvement": 1.0 - float(np.mean(s)) / mean,
        }
        for row, s in scores.items()
    ]


def main(argv: list[str] | None = None) -> dict:
    """Run the stages (see the module doc); returns the record it wrote."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--profile", default="gpu", choices=book.PROFILES)
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="NAME=VALUE", help="override"
    )
    parser.add_argument("--out", help="folder for profile_run.json (runs/<profile>)")
    parser.add_argument(
        "--root",
        help="folder that holds data/ and runs/ (default: the repository's root)",
    )
    parser.add_argument("--budget-s", type=float, default=float("inf"))
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the throughput stage"
    )
    args = parser.parse_args(argv)
    root = book.repo_root()
    params = book.load_profile(root, args.profile)
    params.update(book.parse_overrides(args.set, params))
    home = Path(args.root) if args.root else root
    out = Path(args.out or home / "runs" / params["profile"])
    runs = home / "runs" / params["profile"]
    record: dict = {"profile": args.profile, "params": params, "stages": {}}
    started = time.perf_counter()

    def save():
        record["elapsed_s"] = time.perf_counter() - started
        write_checksum(write_json(out / "profile_run.json", record))

    cuda = params["device"] == "cuda"
    configs = configurations(params)
    state: dict = {}

    def stage_machine():
        return {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "device": torch.cuda.get_device_name() if cuda else platform.processor(),
        }

    def stage_dataset():
        from facelib.data.dataset import load_dataset
        from facelib.world.build import build_dataset

        path = home / "data" / params["profile"]
        if params["overwrite"] or not path.exists():  # else: reuse the one built
            path = build_dataset(
                configs["data"], home / "data", overwrite=params["overwrite"], log=print
            )
        state["data"] = load_dataset(path)
        return {
            "seconds": state["data"].manifest["seconds"],
            "counts": state["data"].manifest["counts"],
        }

    def stage_network(name):
        return lambda: _train_network(
            name, configs[name], state["data"], runs, params["overwrite"]
        )

    def stage_table1():
        rows, state["networks"] = _table1(
            state["data"], runs, params["device"], params["workers"]
        )
        return rows

    stages = [("machine", stage_machine)]
    if cuda:
        stages.append(("matmul_peak", lambda: matmul_peak_tflops()))

    def stage_throughput():
        peak = record["stages"].get("matmul_peak", {}).get("result")
        return _throughput(params, peak)

    if not args.no_throughput:
        stages.append(("throughput", stage_throughput))
    stages += [("dataset", stage_dataset)]
    stages += [(name, stage_network(name)) for name in network_starts]
    stages += [
        ("table1", stage_table1),
        ("real_face", lambda: _real_face(state["data"], state["networks"])),
    ]
    for name, run in stages:
        if time.perf_counter() - started > args.budget_s:
            record.setdefault("not_run", []).append(name)
            continue
        print(f"== {name}", flush=True)
        tick = time.perf_counter()
        result = run()
        record["stages"][name] = {
            "seconds": time.perf_counter() - tick,
            "result": result,
        }
        print(f"== {name}: {time.perf_counter() - tick:.1f} s", flush=True)
        save()
    save()
    return record


if __name__ == "__main__":
    main()
