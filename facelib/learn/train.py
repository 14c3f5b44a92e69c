"""Train one network from the command line, in one process or under ``torchrun``.

::

    python -m facelib.learn.train --data data/cpu --network sv --run-dir runs/cpu/sv \\
        --set width=0.25 batch_size=32 epochs=10
    python -m torch.distributed.run --nproc-per-node 8 -m facelib.learn.train \\
        --data data/paper --network sv --run-dir runs/paper/sv --set device=cuda

``--set name=value`` sets a field of :class:`facelib.learn.training.TrainConfig` (the
value is read as JSON: ``3``, ``1e-4``, ``true``, ``null``; anything else is a
string); ``--init RUN`` is the run a multi-view network starts from. The same command
run again resumes an unfinished run from its last checkpoint (``--overwrite``
restarts it), and ``--stop-after STEPS`` stops a run once that many optimiser steps
are done, leaving its checkpoint to resume from (a job with a time limit). Under
``torchrun`` every rank runs this command; rank 0 prints and writes the run folder
(:func:`facelib.learn.training.train`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

__all__ = ["main", "parse_settings"]


class _Stopped(Exception):
    """Raised by the step callback of ``--stop-after``."""


def parse_settings(settings: list[str]) -> dict:
    """``["name=value", ...]`` as TrainConfig fields: each value read as JSON (also
    ``None``/``True``/``False``), or kept as a string. An unknown name or an entry
    without ``=`` is a ValueError that lists the fields."""
    from facelib.learn.training import TrainConfig

    names = [f.name for f in fields(TrainConfig)]
    words = {"None": None, "True": True, "False": False}
    out = {}
    for item in settings:
        name, eq, text = item.partition("=")
        if not eq or name not in names:
            raise ValueError(
                f"--set takes name=value with a name of TrainConfig {names}, got "
                f"{item!r}"
            )
        try:
            value = words[text] if text in words else json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[name] = value
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m facelib.learn.train",
        description="Train (or resume) one network on a data set; runs the same "
        "under torchrun, one rank per process (gloo on the CPU, nccl on CUDA).",
    )
    parser.add_argument("--data", required=True, type=Path, help="the data set folder")
    parser.add_argument(
        "--network",
        default="sv",
        help="sv, mv, mv_shape or mv_any (TrainConfig.network; --set merge=add|concat)",
    )
    parser.add_argument(
        "--run-dir", required=True, type=Path, help="the run's folder (rank 0 writes)"
    )
    parser.add_argument(
        "--init",
        type=Path,
        help="the trained run a multi-view network starts from (sv for mv and "
        "mv_any, mv with merge=concat for mv_shape)",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="TrainConfig fields, e.g. batch_size=32 device=cuda",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain a finished run, restart an unfinished one",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        metavar="STEPS",
        help="stop once this many optimiser steps are done (counted from the start "
        "of the run), leaving the last checkpoint to resume from",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command; returns the exit status (2: bad arguments)."""
    args = _parser().parse_args(argv)
    from facelib.data.dataset import load_dataset
    from facelib.learn import distributed
    from facelib.learn.training import TrainConfig, train

    try:
        config = TrainConfig(**{"network": args.network, **parse_settings(args.set)})
        if args.stop_after is not None and args.stop_after < 1:
            raise ValueError(f"--stop-after must be >= 1, got {args.stop_after}")
    except ValueError as err:
        print(f"python -m facelib.learn.train: {err}", file=sys.stderr)
        return 2
    distributed.init_from_env(config.device)
    ranks = distributed.world_size()
    say = print if distributed.rank() == 0 else (lambda *a, **k: None)

    def stop(step: int) -> None:
        if args.stop_after is not None and step >= args.stop_after:
            raise _Stopped(step)

    try:
        result = train(
            config,
            load_dataset(args.data),
            args.run_dir,
            init=args.init,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            callback=stop,
        )
    except _Stopped as stopped:
        say(
            f"stopped after {stopped.args[0]} steps; the same command resumes "
            f"{args.run_dir}"
        )
        return 0
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        say(f"python -m facelib.learn.train: {err}", file=sys.stderr)
        return 1
    finally:
        if distributed.is_distributed():
            import torch.distributed as dist

            dist.destroy_process_group()
    m = result.metrics
    say(
        f"{args.run_dir}: {len(result.history)} epochs on "
        f"{ranks} rank(s), validation loss {m.loss:.6g}, "
        f"{result.images_per_second:.1f} images/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
