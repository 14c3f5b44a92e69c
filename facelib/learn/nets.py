"""The paper's networks (sections 3.1, 3.2, 4.2 and 4.3).

* :class:`SingleView` (Fig. 1): a VGG-16 image encoder, then three MLPs with one hidden
  layer of 256 units regressing the 3DMM coefficients α (K modes, standard-normal
  units), the camera rotation q (a quaternion, normalised to unit length) and the
  translation t. The photographs are crops round the face
  (:mod:`facelib.geometry.framing`), so a crop does not show t in millimetres; the
  t-MLP regresses what it shows, the head's centre in the crop and its scale
  (:func:`~facelib.geometry.camera.translation_to_image`: pixels, pixels and log
  pixels per mm, around the training set's mean), and each photograph's intrinsics K
  turn them into t in mm. Without K, the network assumes ``K_default``.
* :class:`MultiView` (Fig. 2): the single-view network as a siamese branch over N views
  (shared weights, a q and a t per view); the per-view shape parameters α_n (the paper:
  "the N outputs of the shape parameters are fed into a second block that combines
  them") go through a merge block (:data:`MERGES`: ``add`` or ``concat``, the paper's
  two; register more there), then an MLP with one hidden layer of 256 units regresses
  one α for the whole scene. Built from a trained single-view network
  (:meth:`MultiView.from_single_view`).
* MV Shape-Concat: :class:`MultiView` with ``shape_only=True``: no pose regressors and
  average pooling at the end of the encoder; trained on the 3D shape error
  (:meth:`MultiView.shape_only_from`).

Images enter as uint8 ``(B, 3, H, W)`` (one view) or ``(B, N, 3, H, W)`` (N views) and
are scaled to [0, 1] and normalised with the ImageNet statistics inside the network.

VGG-16 at ``width=1.0`` is exactly ``torchvision.models.vgg16(weights=None).features``
(checked by a test); other widths scale every convolution's channels, for CPU-sized
runs. Weights are never
downloaded: ``weights_path`` may name a local ``.safetensors`` file with the encoder's
state dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from facelib.geometry.camera import intrinsics_from_fov, translation_from_image

__all__ = [
    "vgg16_encoder",
    "SingleView",
    "MultiView",
    "ViewAverage",
    "Prediction",
    "MERGES",
    "NETWORKS",
    "network_name",
    "check_images",
]

_VGG16 = [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
]
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def vgg16_encoder(
    width: float = 1.0, weights_path: str | Path | None = None
) -> nn.Sequential:
    """VGG-16's convolutional part with every channel count scaled by ``width`` (at
    least 8), initialised as torchvision initialises VGG-16 (He normal with fan-out,
    zero biases).

    ``width=1.0`` returns torchvision's own module. ``weights_path``: a local
    ``.safetensors`` state dict for this encoder (never a download).
    """
    if not 0.0 < width <= 1.0:
        raise ValueError(f"expected a width multiplier in (0, 1], got {width}")
    if width == 1.0:
        import torchvision

        encoder = torchvision.models.vgg16(weights=None).features
    else:
        layers: list[nn.Module] = []
        channels = 3
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                out = max(8, int(round(v * width)))
                conv = nn.Conv2d(channels, out, kernel_size=3, padding=1)
                # torchvision's VGG initialisation (He, fan-out, zero bias). PyTorch's
                # default for a bare Conv2d shrinks the signal about 2.5x per layer:
                # after 13 layers the features would not depend on the image at all, and
                # training from scratch would crawl.
                nn.init.kaiming_normal_(
                    conv.weight, mode="fan_out", nonlinearity="relu"
                )
                nn.init.zeros_(conv.bias)
                layers += [conv, nn.ReLU(inplace=True)]
                channels = out
        encoder = nn.Sequential(*layers)
    if weights_path is not None:
        from safetensors.torch import load_file

        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no encoder weights at {path} (facelib never downloads weights)"
            )
        state = load_file(str(path))
        try:
            encoder.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(
                f"{path} does not fit a VGG-16 encoder of width {width}: "
                f"{str(err).splitlines()[1].strip()}"
            ) from err
    return encoder


def _encoder_channels(encoder: nn.Sequential) -> int:
    return [m for m in encoder if isinstance(m, nn.Conv2d)][-1].out_channels


def mlp(n_in: int, n_out: int, hidden: int = 256) -> nn.Sequential:
    """One hidden layer of ``hidden`` units with ReLU (the paper's regressors)."""
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_out)
    )


def check_images(
    images: torch.Tensor, image_size: int, n_views: int | None
) -> torch.Tensor:
    """Validate uint8 images (B, 3, S, S) or, with ``n_views`` = N, (B, N, 3, S, S);
    returns them unchanged."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"expected images as a torch.Tensor, got {type(images).__name__}"
        )
    layout = "(B, 3, S, S)" if n_views is None else f"(B, {n_views}, 3, S, S)"
    want_dim = 4 if n_views is None else 5
    if images.dtype != torch.uint8:
        raise ValueError(
            f"expected uint8 images {layout} with S = {image_size}, got dtype "
            f"{images.dtype}; "
            "convert with (img * 255).round().to(torch.uint8)"
        )
    if (
        images.dim() != want_dim
        or images.shape[-3] != 3
        or tuple(images.shape[-2:]) != (image_size, image_size)
    ):
        raise ValueError(
            f"expected images {layout} with 3 channels and S = {image_size} (the size "
            "the network was "
            f"trained for), got {tuple(images.shape)}; resize or crop the photographs"
        )
    if n_views is not None and images.shape[1] != n_views:
        raise ValueError(
            f"this network was built for N = {n_views} views, got {images.shape[1]}"
        )
    return images


@dataclass
class Prediction:
    """alpha (B, K) standard-normal 3DMM coefficients; q (B, N, 4) unit quaternions and
    t (B, N, 3) mm per view (``None`` for shape-only networks); for a single-view
    network N = 1."""

    alpha: torch.Tensor
    q: torch.Tensor | None
    t: torch.Tensor | None


class SingleView(nn.Module):
    """Fig. 1: encoder, then MLPs for α, q and t. ``image_t_mean``/``image_t_std``
    ((3,): u px, v px, log(f_x / t_z)) set the output scale of the t-MLP, which
    regresses the head's place in the crop
    (:func:`~facelib.geometry.camera.translation_to_image`); ``K_default`` (3, 3) px:
    the intrinsics assumed when a call passes none (default: a 30° field of view
    centred on the image)."""

    def __init__(
        self,
        n_modes: int,
        image_size: int,
        *,
        width: float = 1.0,
        weights_path=None,
        image_t_mean=None,
        image_t_std=(2.0, 2.0, 0.1),
        K_default=None,
        pool: bool = False,
    ):
        super().__init__()
        self.n_modes, self.image_size, self.width, self.pool = (
            n_modes,
            image_size,
            width,
            pool,
        )
        self.encoder = vgg16_encoder(width, weights_path)
        channels = _encoder_channels(self.encoder)
        side = image_size // 32
        if side < 1:
            raise ValueError(f"image_size {image_size} is below VGG-16's 32 px")
        self.n_features = channels if pool else channels * side * side
        self.alpha_head = mlp(self.n_features, n_modes)
        self.q_head = mlp(self.n_features, 4)
        self.t_head = mlp(self.n_features, 3)
        self.register_buffer("pixel_mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(_STD).view(1, 3, 1, 1))
        if K_default is None:
            K_default = intrinsics_from_fov(30.0, image_size, image_size)
        if image_t_mean is None:  # the head's centre at the crop's, 600 mm away
            c = (image_size - 1) / 2
            image_t_mean = (c, c, float(torch.log(K_default[0, 0] / 600.0)))
        self.register_buffer(
            "image_t_mean", torch.tensor(image_t_mean, dtype=torch.float32)
        )
        self.register_buffer(
            "image_t_std", torch.tensor(image_t_std, dtype=torch.float32)
        )
        self.register_buffer(
            "K_default", torch.as_tensor(K_default, dtype=torch.float32).clone()
        )
        with torch.no_grad():
            # start from the 3DMM's mean shape and the training set's mean translation:
            # the output layers of the α- and t-MLPs begin at zero (their gradients are
            # not zero, so they learn), and q at identity
            for head in (self.alpha_head, self.t_head):
                head[-1].weight.zero_()
                head[-1].bias.zero_()
            self.q_head[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Encoder features (B, n_features) of uint8 images (B, 3, S, S)."""
        x = (images.float() / 255.0 - self.pixel_mean) / self.pixel_std
        x = x.contiguous(
            memory_format=torch.channels_last
        )  # the faster layout for convolutions, CPU and CUDA
        x = self.encoder(x)
        x = x.mean(dim=(-2, -1)) if self.pool else x.flatten(1)
        return x.float()

    def intrinsics(self, K: torch.Tensor | None, batch: tuple[int, ...]):
        """``K`` (*batch, 3, 3) px as float32 on the network's device, or
        ``K_default`` for every photograph when ``K`` is None."""
        if K is None:
            return self.K_default.expand(*batch, 3, 3)
        K = torch.as_tensor(K).to(self.K_default)
        if K.shape == (3, 3):
            K = K.expand(*batch, 3, 3)
        if tuple(K.shape) != (*batch, 3, 3):
            raise ValueError(
                f"expected intrinsics K (3, 3) or {(*batch, 3, 3)} for these images, "
                f"got {tuple(K.shape)}"
            )
        return K

    def pose(
        self, feats: torch.Tensor, K: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q (B, 4) and t (B, 3) mm from features (B, F) and intrinsics (B, 3, 3)."""
        q = torch.nn.functional.normalize(self.q_head(feats).float(), dim=-1, eps=1e-6)
        image_t = self.image_t_mean + self.image_t_std * self.t_head(feats).float()
        return q, translation_from_image(image_t, K)

    def forward(
        self, images: torch.Tensor, K: torch.Tensor | None = None
    ) -> Prediction:
        """uint8 images (B, 3, S, S) and their intrinsics K ((B, 3, 3) or (3, 3) px;
        default ``K_default``) -> :class:`Prediction` with N = 1."""
        check_images(images, self.image_size, None)
        feats = self.features(images)
        q, t = self.pose(feats, self.intrinsics(K, images.shape[:1]))
        return Prediction(
            alpha=self.alpha_head(feats).float(), q=q[:, None], t=t[:, None]
        )


class AddMerge(nn.Module):
    """Sum of the per-view shape features: (B, N, F) -> (B, F); any N."""

    def out_features(self, n_features: int, n_views: int) -> int:
        return n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1)


class ConcatMerge(nn.Module):
    """Concatenation in view order: (B, N, F) -> (B, N F); the number of views is
    fixed."""

    def out_features(self, n_features: int, n_views: int) -> int:
        return n_features * n_views

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


#: merge blocks by name; add an entry to offer another way of merging the views.
MERGES: dict[str, type[nn.Module]] = {"add": AddMerge, "concat": ConcatMerge}


class _OnBranch(nn.Module):
    """A network built on a single-view ``branch``: its image size (px) and number of
    3DMM modes are the branch's."""

    branch: SingleView

    @property
    def image_size(self) -> int:
        return self.branch.image_size

    @property
    def n_modes(self) -> int:
        return self.branch.n_modes


class MultiView(_OnBranch):
    """Fig. 2: a siamese single-view branch over N views, a merge block and an MLP for
    α.

    ``shape_only=True`` is MV Shape-Concat: no pose (``q``, ``t`` are ``None``) and
    average pooling at the end of the encoder.
    """

    def __init__(
        self,
        branch: SingleView,
        n_views: int,
        merge: str = "concat",
        *,
        shape_only: bool = False,
    ):
        super().__init__()
        if merge not in MERGES:
            raise ValueError(f"unknown merge {merge!r}; known: {sorted(MERGES)}")
        if n_views < 1:
            raise ValueError(f"expected at least one view, got n_views={n_views}")
        self.branch, self.n_views, self.merge_name, self.shape_only = (
            branch,
            n_views,
            merge,
            shape_only,
        )
        self.merge = MERGES[merge]()
        self.shape_head = mlp(
            self.merge.out_features(branch.n_modes, n_views), branch.n_modes
        )
        if shape_only:  # no pose regressors at all
            branch.q_head = None
            branch.t_head = None

    def forward(
        self, images: torch.Tensor, K: torch.Tensor | None = None
    ) -> Prediction:
        """uint8 images (B, N, 3, S, S) and their intrinsics K ((B, N, 3, 3) or (3, 3)
        px; default ``K_default``) -> :class:`Prediction` with one α per scene and q, t
        per view."""
        check_images(images, self.image_size, self.n_views)
        B, N = images.shape[:2]
        feats = self.branch.features(images.flatten(0, 1))  # (B N, F): shared weights
        per_view_alpha = self.branch.alpha_head(feats).view(
            B, N, -1
        )  # α_n of every view
        alpha = self.shape_head(self.merge(per_view_alpha)).float()
        if self.shape_only:
            return Prediction(alpha=alpha, q=None, t=None)
        K = self.branch.intrinsics(K, (B, N)).reshape(B * N, 3, 3)
        q, t = self.branch.pose(feats, K)
        return Prediction(alpha=alpha, q=q.view(B, N, 4), t=t.view(B, N, 3))

    @classmethod
    def from_single_view(
        cls, single: SingleView, n_views: int, merge: str
    ) -> "MultiView":
        """A multi-view network on ``n_views`` views whose branch starts as a copy of a
        (trained) single-view network."""
        import copy

        return cls(copy.deepcopy(single), n_views, merge)

    @classmethod
    def shape_only_from(cls, concat: "MultiView") -> "MultiView":
        """MV Shape-Concat initialised from a (trained) MV Concat: the encoder, the
        output layer of the per-view α-MLP and the merge MLP are copied; the first layer
        of the per-view α-MLP is new, because average pooling changes its input size."""
        import copy

        if concat.shape_only or concat.merge_name != "concat":
            raise ValueError(
                "MV Shape-Concat starts from an MV Concat network with pose regressors"
            )
        b = concat.branch
        branch = SingleView(
            b.n_modes,
            b.image_size,
            width=b.width,
            image_t_mean=b.image_t_mean.tolist(),
            image_t_std=b.image_t_std.tolist(),
            K_default=b.K_default,
            pool=True,
        )
        branch.encoder.load_state_dict(b.encoder.state_dict())
        branch.alpha_head[2].load_state_dict(b.alpha_head[2].state_dict())
        model = cls(branch, concat.n_views, "concat", shape_only=True)
        model.shape_head.load_state_dict(copy.deepcopy(concat.shape_head.state_dict()))
        return model


class AnyView(_OnBranch):
    """MV Any (beyond the paper): the single-view branch on each of any number N of
    photographs, in any order (shared weights, one camera per photograph), merged by a
    learned trust per view.

    Each view n gives the branch's features f_n (F,), coefficients α_n (K,) and
    camera; a scoring MLP gives it a weight w_n = softmax over the views of s(f_n), and
    the scene's coefficients are

        α = Σ_n w_n α_n + r(Σ_n w_n f_n),

    a weighted mean of the views' coefficients plus a correction read from the
    weighted mean of their features. Both sums are symmetric in the views, so the
    result does not depend on their order, and they are defined for every N >= 1 (for
    N = 1, w_1 = 1). The score's and the correction's output layers start at zero: an
    untrained MV Any is exactly SV Mean (equal weights, no correction), and training
    (Eq. 2 over a random number of views in random order) teaches it which views to
    trust.
    """

    def __init__(self, branch: SingleView, hidden: int = 64):
        super().__init__()
        self.branch = branch
        self.score = mlp(branch.n_features, 1, hidden=hidden)
        self.correction = mlp(branch.n_features, branch.n_modes)
        with torch.no_grad():
            for head in (self.score, self.correction):
                head[-1].weight.zero_()
                head[-1].bias.zero_()

    def view_weights(self, feats: torch.Tensor) -> torch.Tensor:
        """The weights (B, N) of per-view features (B, N, F): softmax over N."""
        return torch.softmax(self.score(feats)[..., 0].float(), dim=-1)

    def forward(
        self, images: torch.Tensor, K: torch.Tensor | None = None
    ) -> Prediction:
        """uint8 images (B, N, 3, S, S), any N >= 1, and their intrinsics K ((B, N,
        3, 3) or (3, 3) px; default ``K_default``) -> :class:`Prediction` with one α
        per scene and q, t per view."""
        if not isinstance(images, torch.Tensor) or images.dim() != 5:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else None
            raise ValueError(
                "expected images (B, N, 3, S, S) with any number N >= 1 of views, got "
                f"{shape if shape is not None else type(images).__name__}"
            )
        B, N = images.shape[:2]
        if N < 1:
            raise ValueError("MV Any needs at least one photograph per scene (N >= 1)")
        check_images(images, self.image_size, N)
        flat = self.branch.features(images.flatten(0, 1))  # (B N, F)
        feats = flat.view(B, N, -1)
        w = self.view_weights(feats)  # (B, N)
        per_view = self.branch.alpha_head(flat).float().view(B, N, -1)
        pooled = (w[..., None] * feats.float()).sum(1)  # (B, F)
        alpha = (w[..., None] * per_view).sum(1) + self.correction(pooled).float()
        K = self.branch.intrinsics(K, (B, N)).reshape(B * N, 3, 3)
        q, t = self.branch.pose(flat, K)
        return Prediction(alpha=alpha, q=q.view(B, N, 4), t=t.view(B, N, 3))

    @classmethod
    def from_single_view(cls, single: SingleView) -> "AnyView":
        """MV Any whose branch starts as a copy of a (trained) single-view network."""
        import copy

        return cls(copy.deepcopy(single))


#: the trainable networks by name: ``"sv"`` a :class:`SingleView`, ``"mv"`` a
#: :class:`MultiView` (MV Add or MV Concat), ``"mv_shape"`` a shape-only
#: :class:`MultiView` (MV Shape-Concat), ``"mv_any"`` an :class:`AnyView` (MV Any)
NETWORKS = ("sv", "mv", "mv_shape", "mv_any")


def network_name(model: nn.Module) -> str:
    """Which of :data:`NETWORKS` ``model`` is."""
    if isinstance(model, MultiView):
        return "mv_shape" if model.shape_only else "mv"
    if isinstance(model, AnyView):
        return "mv_any"
    if isinstance(model, SingleView):
        return "sv"
    raise TypeError(
        "expected a SingleView, MultiView or AnyView network, got "
        f"{type(model).__name__}"
    )


class ViewAverage(nn.Module):
    """The paper's "SV Mean": a single-view network on each of N views, coefficients
    averaged, the per-view poses kept. Takes (B, N, 3, S, S) like :class:`MultiView`;
    any N."""

    def __init__(self, single: SingleView):
        super().__init__()
        self.branch = single

    @property
    def image_size(self) -> int:
        return self.branch.image_size

    def forward(
        self, images: torch.Tensor, K: torch.Tensor | None = None
    ) -> Prediction:
        """uint8 images (B, N, 3, S, S), intrinsics K as :class:`MultiView`'s."""
        if images.dim() != 5:
            raise ValueError(
                f"expected images (B, N, 3, S, S), got {tuple(images.shape)}"
            )
        B, N = images.shape[:2]
        K = self.branch.intrinsics(K, (B, N)).reshape(B * N, 3, 3)
        pred = self.branch(images.flatten(0, 1), K)
        return Prediction(
            alpha=pred.alpha.view(B, N, -1).mean(1),
            q=pred.q.view(B, N, 4),
            t=pred.t.view(B, N, 3),
        )
