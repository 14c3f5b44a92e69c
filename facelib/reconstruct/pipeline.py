"""Photographs in, a textured 3D face out: the library call behind ``facelib
reconstruct``.

    recon = PhotoReconstructor.from_runs("runs/cpu")    # the runs of one profile
    result = recon(["front.jpg", "left.jpg", "right.jpg"])
    files = write_outputs(result, "out/")

Which network: one photograph goes to the single-view network; several go to the
multi-view network when there are at least its N (the N whose estimated yaws are nearest
the paper's targets, -45°, 0°, 45° for N = 3, ordered by yaw: the paper's view
selection), otherwise to the single-view network on each, coefficients averaged (SV
Mean). ``from_runs`` takes a folder of runs (``sv/``, ``mv_concat/``) or one run.

Every photograph, used by the network or not, gets a camera (the network's branch reads
each crop) and lends its colours to the texture (:mod:`facelib.reconstruct.texture`).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from facelib.data.dataset import Dataset, load_dataset
from facelib.geometry.camera import quaternion_to_matrix, quaternion_to_yaw_pitch_roll
from facelib.geometry.framing import Framing
from facelib.learn.checkpoints import load_model
from facelib.learn.nets import MultiView, SingleView
from facelib.learn.views import select_views
from facelib.real.realism import our_framing
from facelib.reconstruct.export import (
    cameras_record,
    draw_overlay,
    to_file_frame,
    write_obj,
    write_ply,
    write_png,
    write_text,
)
from facelib.reconstruct.photos import (
    DEFAULT_FOV_DEG,
    FaceNotFound,
    FramedPhoto,
    frame_photo,
    read_photo,
)
from facelib.reconstruct.texture import (
    TexelSurface,
    bake_texture,
    texel_surface,
    uv_layout,
)
from facelib.storage import file_sha256

__all__ = [
    "PhotoReconstructor",
    "PhotoReconstruction",
    "write_outputs",
    "reconstruct_photos",
    "OUTPUT_FILES",
]

#: what :func:`write_outputs` writes into its folder
OUTPUT_FILES = (
    "face.obj",
    "face.mtl",
    "face_texture.png",
    "face.ply",
    "landmarks.txt",
    "cameras.json",
    "overlay.png",
    "checksums.json",
)
_RUN_NAMES = {"sv": "sv", "mv": "mv_concat"}


@dataclass
class PhotoReconstruction:
    """A face from photographs: ``vertices`` (P, 3) mm and ``landmarks`` (68, 3) mm in
    the model frame, ``faces`` (F, 3), ``alpha`` (K,), ``uv`` (P, 2); per photograph
    its :class:`~facelib.reconstruct.photos.FramedPhoto` and camera ``K`` (N, 3, 3) px
    (the photograph's, not the crop's), ``q`` (N, 4), ``t`` (N, 3) mm; ``texture``
    (T, T, 3) uint8 and the weight each texel got; ``network`` (``"sv"``, ``"sv
    mean"`` or ``"mv"``), ``used`` (the photographs the network read, in its order),
    ``skipped`` (file names without a face, with the reason) and ``seconds`` by
    stage (detector, network, texture)."""

    vertices: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray
    alpha: np.ndarray
    uv: np.ndarray
    photos: list[FramedPhoto]
    K: np.ndarray
    q: np.ndarray
    t: np.ndarray
    texture: np.ndarray
    texture_weight: np.ndarray
    network: str
    used: list[int]
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class PhotoReconstructor:
    """Trained networks with their data set's 3DMM and framing, ready for photographs.

    ``networks``: ``"sv"`` (a :class:`SingleView`) and/or ``"mv"`` (a pose-predicting
    :class:`MultiView`); ``framing``: how a detector's box becomes the crop the
    networks were trained on (measured on the data set's photographs by
    :meth:`from_runs`); ``texture_size`` px."""

    def __init__(
        self,
        networks: dict[str, torch.nn.Module],
        data: Dataset,
        framing: Framing,
        *,
        device: str = "cpu",
        texture_size: int = 256,
    ):
        if not networks or set(networks) - {"sv", "mv"}:
            raise ValueError(
                f"expected networks 'sv' and/or 'mv', got {sorted(networks)}"
            )
        for name, net in networks.items():
            want = SingleView if name == "sv" else MultiView
            if not isinstance(net, want) or getattr(net, "shape_only", False):
                raise ValueError(
                    f"network {name!r} must be a {want.__name__} that predicts cameras"
                )
        self.networks = {k: v.to(device).eval() for k, v in networks.items()}
        self.data, self.framing, self.device = data, framing, device
        self.image_size = data.image_size
        template = data.template
        self.faces = np.asarray(data.morphable_model.faces, dtype=np.int64)
        self.uv = uv_layout(template.canonical)
        self.surface: TexelSurface = texel_surface(self.uv, self.faces, texture_size)

    @classmethod
    def from_runs(
        cls,
        runs: str | Path,
        *,
        data: str | Path | None = None,
        device: str = "cpu",
        framing: Framing | None = None,
        framing_subjects: int = 40,
    ) -> "PhotoReconstructor":
        """Load the single-view and multi-view (MV Concat) runs in the folder
        ``runs`` (``runs/sv``, ``runs/mv_concat``), or the one run ``runs`` is; the data
        set they were trained on (``data``, default: the one their ``model.json``
        names); and, unless ``framing`` is given, measure the detector's framing on
        its first ``framing_subjects`` training subjects' near-frontal photographs
        (:func:`facelib.real.realism.our_framing`)."""
        runs = Path(runs)
        if (runs / "model.json").is_file():
            paths = {"run": runs}
        else:
            paths = {k: runs / v for k, v in _RUN_NAMES.items()}
            paths = {k: p for k, p in paths.items() if (p / "model.json").is_file()}
        if not paths:
            raise FileNotFoundError(
                f"no trained model in {runs}: expected a run folder with model.json, "
                f"or a folder of runs {sorted(_RUN_NAMES.values())} (train them with "
                "the book's chapters 02 and 03, or `make book`)"
            )
        metas = {
            k: json.loads((p / "model.json").read_text()) for k, p in paths.items()
        }
        if data is None:
            named = {m.get("dataset") for m in metas.values()}
            if len(named) != 1 or None in named:
                raise ValueError(
                    f"the runs in {runs} name different data sets {sorted(named)}; "
                    "pass data=<data set folder>"
                )
            data = named.pop()
        dataset = load_dataset(data)
        networks = {}
        for key, path in paths.items():
            model, meta = load_model(
                path, morphable_model=dataset.morphable_model, device=device
            )
            kind = meta["architecture"]["network"]
            if kind == "mv_shape":
                raise ValueError(
                    f"{path} is MV Shape-Concat, which predicts no cameras: pass the "
                    "sv or mv_concat run"
                )
            networks[kind] = model
        if framing is None:
            train = dataset.subjects("train")[:framing_subjects]
            try:
                framing = our_framing(dataset, train).by_detector
            except ValueError as err:
                raise ValueError(
                    f"could not measure how the face detector frames {data}'s "
                    f"photographs ({err}); pass framing=Framing(margin, shift)"
                ) from err
        return cls(networks, dataset, framing, device=device)

    def _frame(self, photos, names, face: int, fov_deg: float, log):
        framed, skipped = [], []
        for photo, name in zip(photos, names):
            try:
                image = read_photo(photo) if isinstance(photo, (str, Path)) else photo
                image = np.asarray(image)
                if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                    raise ValueError(
                        f"{name}: expected an (H, W, 3) uint8 RGB image, got "
                        f"{image.shape} {image.dtype}"
                    )
                framed.append(
                    frame_photo(
                        image,
                        self.framing,
                        self.image_size,
                        face=face,
                        fov_deg=fov_deg,
                        name=name,
                    )
                )
            except FaceNotFound as err:
                skipped.append(str(err))
                log(f"warning: {err}; reconstructing from the other photographs")
        if not framed:
            raise FaceNotFound(
                "no face in any photograph: " + "; ".join(skipped or ["no photographs"])
            )
        return framed, skipped

    @torch.no_grad()
    def __call__(
        self,
        photos,
        *,
        face: int = 0,
        fov_deg: float = DEFAULT_FOV_DEG,
        log: Callable[[str], None] | None = None,
    ) -> PhotoReconstruction:
        """Reconstruct the face in ``photos`` (file paths, or (H, W, 3) uint8 arrays;
        any order, any size) photographed with a horizontal field of view ``fov_deg``;
        ``face``: which face in each photograph (0 the largest). ``log`` receives
        warnings (a photograph without a face is skipped with a warning)."""
        log = log or (lambda message: warnings.warn(message, stacklevel=2))
        photos = list(photos)
        if not photos:
            raise ValueError("no photographs given: pass one or more image files")
        names = [
            Path(p).name if isinstance(p, (str, Path)) else f"photograph {i}"
            for i, p in enumerate(photos)
        ]
        seconds = {}
        tick = time.perf_counter()
        framed, skipped = self._frame(photos, names, face, fov_deg, log)
        seconds["detector"] = time.perf_counter() - tick

        tick = time.perf_counter()
        x = torch.from_numpy(np.stack([f.crop_image for f in framed])).permute(
            0, 3, 1, 2
        )
        x = x.contiguous().to(self.device)
        K_crop = torch.from_numpy(np.stack([f.crop_K for f in framed])).float()
        K_crop = K_crop.to(self.device)
        n = len(framed)
        mv = self.networks.get("mv")
        branch = mv.branch if mv is not None else self.networks["sv"]
        per_view = branch(x, K_crop)  # a camera for every photograph
        q = per_view.q[:, 0].cpu().double()
        t = per_view.t[:, 0].cpu().double()
        if mv is not None and n >= mv.n_views:
            yaw = quaternion_to_yaw_pitch_roll(q)[:, 0].numpy()
            used = [int(i) for i in select_views(yaw, mv.n_views)]
            pred = mv(x[used][None], K_crop[used][None])
            alpha, network = pred.alpha[0], "mv"
        elif "sv" in self.networks:
            if n > 1 and mv is not None:
                log(
                    f"warning: the multi-view network needs {mv.n_views} photographs "
                    f"with a face, got {n}; averaging the single-view network's "
                    "reconstructions (SV Mean)"
                )
            sv = self.networks["sv"]
            alpha = sv(x, K_crop).alpha.mean(0)
            used, network = list(range(n)), "sv" if n == 1 else "sv mean"
        else:
            raise ValueError(
                f"this multi-view network needs {mv.n_views} photographs with a face, "
                f"got {n}; pass a folder with a single-view run (sv/) as well"
            )
        mm = self.data.morphable_model
        vertices = mm.shape(alpha.cpu().double()).numpy()
        seconds["network"] = time.perf_counter() - tick

        tick = time.perf_counter()
        K = np.stack([f.K for f in framed])
        texture, weight = bake_texture(
            vertices,
            self.faces,
            self.surface,
            [f.image for f in framed],
            K,
            q.numpy(),
            t.numpy(),
        )
        seconds["texture"] = time.perf_counter() - tick
        return PhotoReconstruction(
            vertices=vertices,
            faces=self.faces,
            landmarks=vertices[self.data.template.landmarks],
            alpha=alpha.cpu().numpy(),
            uv=self.uv,
            photos=framed,
            K=K,
            q=q.numpy(),
            t=t.numpy(),
            texture=texture,
            texture_weight=weight,
            network=network,
            used=used,
            skipped=skipped,
            seconds=seconds,
        )


def _vertex_colours(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    T = texture.shape[0]
    x = np.clip(np.round(uv[:, 0] * T - 0.5), 0, T - 1).astype(int)
    y = np.clip(np.round((1 - uv[:, 1]) * T - 0.5), 0, T - 1).astype(int)
    return texture[y, x]


def _overlay(result: PhotoReconstruction, height: int = 480) -> np.ndarray:
    """Every photograph scaled to ``height`` px, the mesh drawn over it through its
    camera (the intrinsics scaled with the image), side by side."""
    tiles = []
    for f, qi, ti in zip(result.photos, result.q, result.t):
        H, W = f.image.shape[:2]
        s = height / H
        w = max(1, round(W * s))
        image = np.asarray(Image.fromarray(f.image).resize((w, height)))
        K = np.asarray(f.K, dtype=np.float64).copy()
        K[:2, :2] *= s
        K[:2, 2] = (K[:2, 2] + 0.5) * s - 0.5
        R = quaternion_to_matrix(torch.from_numpy(qi)).numpy()
        tiles.append(
            draw_overlay(
                image, result.vertices, result.faces, result.landmarks, K, R, ti
            )
        )
    return np.concatenate(tiles, axis=1)


def write_outputs(
    result: PhotoReconstruction, out: str | Path, *, overwrite: bool = False
) -> dict[str, str]:
    """Write :data:`OUTPUT_FILES` into the folder ``out`` (refused if any exists,
    unless ``overwrite``); returns each file's SHA-256 (also in ``checksums.json``)."""
    out = Path(out)
    present = [name for name in OUTPUT_FILES if (out / name).exists()]
    if present and not overwrite:
        raise FileExistsError(
            f"{out} already holds {', '.join(present)}; choose another folder or pass "
            "overwrite=True (--overwrite)"
        )
    out.mkdir(parents=True, exist_ok=True)
    vertices = to_file_frame(result.vertices)
    write_png(out / "face_texture.png", result.texture)
    write_obj(out / "face.obj", vertices, result.faces, result.uv, "face_texture.png")
    write_ply(
        out / "face.ply",
        vertices,
        result.faces,
        _vertex_colours(result.texture, result.uv),
    )
    write_text(
        out / "landmarks.txt",
        "\n".join(
            f"{x:.5f} {y:.5f} {z:.5f}" for x, y, z in to_file_frame(result.landmarks)
        )
        + "\n",
    )
    sizes = [(f.image.shape[1], f.image.shape[0]) for f in result.photos]
    names = [f.name for f in result.photos]
    write_text(
        out / "cameras.json", cameras_record(names, result.K, result.q, result.t, sizes)
    )
    write_png(out / "overlay.png", _overlay(result))
    sums = {name: file_sha256(out / name) for name in OUTPUT_FILES[:-1]}
    write_text(out / "checksums.json", json.dumps({"sha256": sums}, indent=1))
    return sums


def reconstruct_photos(
    photos,
    runs: str | Path,
    out: str | Path,
    *,
    data: str | Path | None = None,
    face: int = 0,
    fov_deg: float = DEFAULT_FOV_DEG,
    device: str = "cpu",
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> PhotoReconstruction:
    """The whole command as one call: load the runs, reconstruct ``photos``, write the
    outputs into ``out``."""
    recon = PhotoReconstructor.from_runs(runs, data=data, device=device)
    result = recon(photos, face=face, fov_deg=fov_deg, log=log)
    write_outputs(result, out, overwrite=overwrite)
    return result
