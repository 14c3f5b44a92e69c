"""The ``facelib`` command: ``facelib reconstruct PHOTO [PHOTO ...] --model RUNS -o
OUT/`` (also ``python -m facelib reconstruct``). See
:mod:`facelib.reconstruct.pipeline` for what it does; ``facelib reconstruct --help``
for the options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facelib")
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser(
        "reconstruct",
        help="photographs of one person in, a textured 3D face out",
        description=(
            "Reconstruct the face in one or several photographs of one person (any "
            "order, any size, JPEG or PNG) and write face.obj/.mtl/_texture.png, "
            "face.ply, landmarks.txt, cameras.json, overlay.png and checksums.json."
        ),
    )
    rec.add_argument("photos", nargs="*", type=Path, help="photographs of one person")
    rec.add_argument(
        "--model",
        required=True,
        type=Path,
        help="a folder of trained runs (e.g. runs/cpu, holding sv/ and mv_concat/) "
        "or one run folder",
    )
    rec.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    rec.add_argument(
        "--batch",
        type=Path,
        help="a folder of people, one sub-folder of photographs each; outputs go to "
        "OUT/<sub-folder>/",
    )
    rec.add_argument(
        "--face", type=int, default=0, help="which face, 0 the largest (default 0)"
    )
    rec.add_argument(
        "--fov",
        type=float,
        default=None,
        help="the photographs' horizontal field of view in degrees (default 60)",
    )
    rec.add_argument("--data", type=Path, help="the data set (default: the runs')")
    rec.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    rec.add_argument(
        "--overwrite", action="store_true", help="replace outputs already in OUT"
    )
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _photos_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    )


def _reconstruct(args) -> int:
    from facelib.reconstruct.photos import DEFAULT_FOV_DEG
    from facelib.reconstruct.pipeline import PhotoReconstructor, write_outputs

    if args.batch is None and not args.photos:
        raise SystemExit("facelib reconstruct: give photographs or --batch DIR")
    if args.batch is not None and args.photos:
        raise SystemExit("facelib reconstruct: give photographs or --batch, not both")
    if args.batch is not None:
        if not args.batch.is_dir():
            raise SystemExit(f"facelib reconstruct: --batch {args.batch} is no folder")
        people = [
            (p.name, _photos_in(p)) for p in sorted(args.batch.iterdir()) if p.is_dir()
        ]
        if not people:
            raise SystemExit(f"facelib reconstruct: no sub-folders in {args.batch}")
    else:
        missing = [str(p) for p in args.photos if not p.is_file()]
        if missing:
            raise SystemExit(f"facelib reconstruct: no such file: {', '.join(missing)}")
        people = [(None, list(args.photos))]
    _say(f"loading {args.model} ...")
    recon = PhotoReconstructor.from_runs(args.model, data=args.data, device=args.device)
    fov = DEFAULT_FOV_DEG if args.fov is None else args.fov
    failures = 0
    for k, (person, photos) in enumerate(people, 1):
        out = args.out if person is None else args.out / person
        label = f"[{k}/{len(people)}] {person}" if person is not None else "reconstruct"
        try:
            result = recon(photos, face=args.face, fov_deg=fov, log=_say)
            write_outputs(result, out, overwrite=args.overwrite)
        except (ValueError, FileExistsError, FileNotFoundError) as err:
            failures += 1
            _say(f"{label}: error: {err}")
            continue
        timing = ", ".join(f"{s} {v:.2f} s" for s, v in result.seconds.items())
        _say(
            f"{label}: {len(result.photos)} photograph(s), network {result.network} "
            f"on {len(result.used)}; {timing}; wrote {out}/"
        )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "reconstruct":
        return _reconstruct(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
