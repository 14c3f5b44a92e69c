"""From photographs to a mesh: one call on a trained checkpoint.

    recon = Reconstructor.from_checkpoint("runs/cpu/mv_concat", morphable_model)
    # images: N photographs (H, W, 3) uint8, H = W = the training size
    mesh = recon(images, fov_deg=60.0)
    mesh.vertices, mesh.faces, mesh.q, mesh.t, mesh.K

A single-view network reconstructs every photograph on its own and averages the
coefficients (the paper's "SV Mean"; one photograph gives "SV Frontal"); a multi-view
network takes exactly the N photographs it was built for, ordered from the subject's
right profile to the left one (increasing yaw). The cameras are those the network
estimates, one per photograph: the network reads the head's place in each crop and the
photograph's ``K`` turns it into a translation in mm (the shape does not depend on
``K``); ``K`` is returned with the cameras so that they can project the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facelib.geometry.camera import (
    _refuse_singular,
    _singular_intrinsics,
    intrinsics_from_fov,
)
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.checkpoints import load_model
from facelib.learn.nets import AnyView, MultiView, Prediction

__all__ = ["Reconstruction", "Reconstructor"]


@dataclass
class Reconstruction:
    """vertices (P, 3) mm in the model frame; faces (F, 3); alpha (K,); per photograph:
    K (N, 3, 3) px, q (N, 4), t (N, 3) mm (``None`` for a shape-only network)."""

    vertices: np.ndarray
    faces: np.ndarray
    alpha: np.ndarray
    K: np.ndarray
    q: np.ndarray | None
    t: np.ndarray | None


class Reconstructor:
    """A trained network with its 3DMM, ready to reconstruct photographs."""

    def __init__(
        self,
        model: torch.nn.Module,
        morphable_model: MorphableModel,
        *,
        device: str = "cpu",
    ):
        self.model, self.morphable_model, self.device = (
            model.to(device).eval(),
            morphable_model,
            device,
        )
        self.image_size = model.image_size
        # one scene of all the photographs (MV Any: any number, any order)
        self.multi_view = isinstance(model, (MultiView, AnyView))

    @classmethod
    def from_checkpoint(
        cls, run: str | Path, morphable_model: MorphableModel, *, device: str = "cpu"
    ) -> "Reconstructor":
        """The finished run in the folder ``run`` (refused if it was trained for
        another 3DMM)."""
        model, _ = load_model(run, morphable_model=morphable_model, device=device)
        return cls(model, morphable_model, device=device)

    def _images(self, images) -> torch.Tensor:
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = images[None]
        if isinstance(images, (list, tuple)):
            if len(images) == 0:
                raise ValueError(
                    "no photographs: got an empty list; pass at least one (H, W, 3) "
                    "uint8 array"
                )
            arrays = [np.asarray(im) for im in images]
            sizes = sorted({a.shape for a in arrays})
            if len(sizes) > 1:
                raise ValueError(
                    f"the photographs differ in size: {sizes}; crop and resize them "
                    f"all to ({self.image_size}, {self.image_size}, 3)"
                )
            images = np.stack(arrays)
        if isinstance(images, np.ndarray):
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(
                    "expected photographs (N, H, W, 3) or a list of (H, W, 3) arrays, "
                    f"got {images.shape}"
                )
            images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise ValueError(
                "expected photographs as (N, H, W, 3) arrays or an (N, 3, H, W) uint8 "
                "tensor"
            )
        if images.shape[0] == 0:
            raise ValueError(
                f"no photographs: got {tuple(images.shape)}; pass at least one"
            )
        return images.to(self.device)

    @staticmethod
    def _intrinsics(K, n: int) -> torch.Tensor:
        """``K`` (3, 3) or (n, 3, 3) px as an (n, 3, 3) float32 tensor on the CPU;
        ``ValueError`` for another shape, non-finite entries or a singular matrix."""
        K = (
            K.detach().cpu()
            if isinstance(K, torch.Tensor)
            else torch.as_tensor(np.array(K))
        ).float()
        K = K.expand(n, 3, 3) if K.shape == (3, 3) else K
        if K.shape != (n, 3, 3):
            raise ValueError(
                f"expected K (3, 3) or ({n}, 3, 3) px, one per photograph, got "
                f"{tuple(K.shape)}"
            )
        if not torch.isfinite(K).all():
            raise ValueError(
                "K contains non-finite entries (NaN or inf); pass the photographs' "
                "intrinsics in pixels, or their field of view fov_deg"
            )
        singular = _singular_intrinsics(K)
        if singular.any():
            _refuse_singular(K, singular)
        return K

    @torch.no_grad()
    def predict(self, images, K=None) -> Prediction:
        """Raw network output for photographs with intrinsics ``K`` ((N, 3, 3) px;
        default: the network's ``K_default``). Single view: one prediction per
        photograph, alpha (N, K), q (N, 1, 4), t (N, 1, 3). Multi-view: alpha (1, K), q
        (1, N, 4), t (1, N, 3)."""
        x = self._images(images)
        if K is not None:
            K = self._intrinsics(K, x.shape[0]).to(self.device)
        if self.multi_view:
            return self.model(x[None], None if K is None else K[None])
        return self.model(x, K)

    def __call__(
        self, images, *, K=None, fov_deg: float | None = None
    ) -> Reconstruction:
        """Reconstruct the face seen in ``images`` (see the module doc). Pass the
        photographs' intrinsics ``K`` ((3, 3) or (N, 3, 3), pixels; converted to
        float32) or their horizontal field of view ``fov_deg`` (degrees, in (0, 180)),
        not both.

        Raises ``ValueError`` for no photographs, photographs of different sizes, both
        or neither of ``K`` and ``fov_deg``, a ``K`` of another shape, non-finite or
        singular, and a field of view outside (0, 180)."""
        x = self._images(images)
        n = x.shape[0]
        if K is None:
            if fov_deg is None:
                raise ValueError(
                    "pass the photographs' intrinsics K or their horizontal field of "
                    "view fov_deg"
                )
            K = intrinsics_from_fov(fov_deg, self.image_size, self.image_size)
        elif fov_deg is not None:
            raise ValueError(
                f"got both K and fov_deg={fov_deg}; pass one of them (K fixes the "
                "field of view)"
            )
        K = self._intrinsics(K, n)
        pred = self.predict(x, K)
        alpha = pred.alpha.mean(
            dim=0
        )  # one row for multi-view; the "SV Mean" average for single view
        q = None if pred.q is None else pred.q.reshape(n, 4).cpu().numpy()
        t = None if pred.t is None else pred.t.reshape(n, 3).cpu().numpy()
        vertices = self.morphable_model.shape(alpha.cpu().double()).numpy()
        return Reconstruction(
            vertices=vertices,
            faces=self.morphable_model.faces,
            alpha=alpha.cpu().numpy(),
            K=K.numpy(),
            q=q,
            t=t,
        )
