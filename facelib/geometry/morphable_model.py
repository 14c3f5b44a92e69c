"""The 3D morphable model (3DMM) of the paper, Eq. 1: ``s = m + Φ α``.

``m`` is the mean shape, ``Φ`` the identity basis and ``α`` the shape coefficients.
Internally the basis is kept as orthonormal principal directions ``components`` (K, P,
3) and their standard deviations ``std`` (K,) in mm, so that ``Φ = components * std``:
the coefficients ``α`` are then standard normal over the population the model was built
from, which is what the networks regress.

A model is built with :meth:`MorphableModel.fit` (generalized Procrustes alignment then
PCA, as in the paper's section 4.1) and stored as one ``.npz`` file (no pickle).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from facelib.geometry.mirror import mirror_shapes
from facelib.geometry.procrustes import generalized_procrustes
from facelib.storage import atomic_write

__all__ = ["MorphableModel", "similarity_directions"]

_ARRAYS = ("mean", "components", "std", "faces", "landmarks", "mirror", "spectrum")
_FORMAT_VERSION = 1


def _principal_components(centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA of centred samples (N, D): the variances (M,), largest first, and the unit
    principal directions (M, D), for the M directions whose variance exceeds 1e-10 of
    the largest.

    Computed from the eigenvectors of the smaller of the two Gram matrices (N x N,
    "snapshots", or D x D): the same result as an SVD of the samples (checked against
    ``numpy.linalg.svd`` by the tests) and, for thousands of faces of thousands of
    vertices, over ten times faster. Squaring the samples costs precision in the
    smallest variances only: the Gram matrix's rounding is about N eps of the largest,
    hence the cut at 1e-10. Each direction's sign is fixed so that its dot product with
    a fixed positive ramp is positive (an SVD's signs depend on the LAPACK build;
    mirror-symmetric faces make "the largest entry positive" ambiguous).
    """
    n, dim = centred.shape
    gram = centred @ centred.T if n <= dim else centred.T @ centred
    eigval, u = np.linalg.eigh(gram)
    order = np.argsort(eigval)[::-1]
    eigval, u = eigval[order], u[:, order]
    keep = eigval > eigval[0] * 1e-10
    eigval, u = eigval[keep], u[:, keep]
    directions = (centred.T @ u / np.sqrt(eigval)).T if n <= dim else u.T
    flip = np.where(directions @ np.linspace(1.0, 2.0, dim) < 0, -1.0, 1.0)
    return eigval / (n - 1), directions * flip[:, None]


def _real_array(x, name: str) -> np.ndarray:
    """``x`` as float64, refusing what is not real numbers (strings, complex,
    objects)."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(
            f"expected {name} as real numbers, got dtype {a.dtype}; pass a float array"
        )
    return np.asarray(a, dtype=np.float64)


def _index_array(x, name: str) -> np.ndarray:
    """``x`` as int64 vertex ids, refusing fractional or non-finite values (a cast
    would truncate them silently)."""
    a = np.asarray(x)
    if a.dtype.kind in "iu" or (
        a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all()
    ):
        return np.asarray(a, dtype=np.int64)
    raise ValueError(
        f"expected {name} as integer vertex ids, got dtype {a.dtype}"
        + (" with fractional or non-finite values" if a.dtype.kind == "f" else "")
        + "; pass an integer array"
    )


def similarity_directions(mean: np.ndarray, scale: bool = True) -> np.ndarray:
    """Orthonormal directions (G, P 3) along which a similarity transform first moves
    the shape ``mean`` (P, 3): 3 translations, 3 infinitesimal rotations ω × x about the
    centroid and, with ``scale``, the isotropic scaling x - centroid (G = 7; 6 without
    scale)."""
    c = np.asarray(mean, dtype=np.float64)
    c = c - c.mean(axis=0)
    eye = np.eye(3)
    moves = (
        [np.broadcast_to(e, c.shape) for e in eye]
        + [np.cross(e, c) for e in eye]
        + ([c] if scale else [])
    )
    q, _ = np.linalg.qr(np.stack([m.ravel() for m in moves], axis=1))
    return q.T


@dataclass(eq=False)
class MorphableModel:
    """A linear shape model ``s = mean + sum_k alpha_k std_k components_k``.

    Attributes:
        mean: mean shape, (P, 3), mm, model frame (see :mod:`facelib.camera`).
        components: orthonormal principal directions, (K, P, 3); flattened to (K, 3P)
        they are orthonormal rows.
        std: standard deviation of each mode, (K,), mm, non-increasing.
        faces: triangles, (F, 3), vertex ids.
        landmarks: vertex id of each landmark, (L,) (iBUG-68 order once the face
        template exists).
        mirror: vertex id of each vertex's left/right twin, (P,); ``mirror[mirror] ==
        arange(P)``.
        spectrum: variance (mm²) of every PCA mode before truncation, (M,) with M >= K;
        used for
            explained-variance curves. Defaults to ``std**2``.
    """

    mean: np.ndarray
    components: np.ndarray
    std: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray
    mirror: np.ndarray
    spectrum: np.ndarray | None = None
    _torch_cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.mean = _real_array(self.mean, "mean")
        self.components = _real_array(self.components, "components")
        self.std = _real_array(self.std, "std")
        self.faces = _index_array(self.faces, "faces")
        self.landmarks = _index_array(self.landmarks, "landmarks")
        self.mirror = _index_array(self.mirror, "mirror")
        self.spectrum = (
            self.std**2
            if self.spectrum is None
            else _real_array(self.spectrum, "spectrum")
        )
        self._validate()

    def _validate(self) -> None:
        P = self.mean.shape[0] if self.mean.ndim else 0
        if self.mean.ndim != 2 or self.mean.shape[1] != 3 or P < 1:
            raise ValueError(f"expected mean (P, 3) with P >= 1, got {self.mean.shape}")
        if self.components.ndim != 3 or self.components.shape[1:] != (P, 3):
            raise ValueError(
                f"expected components (K, {P}, 3), got {self.components.shape}"
            )
        K = self.components.shape[0]
        if self.std.shape != (K,):
            raise ValueError(f"expected std ({K},), got {self.std.shape}")
        if (self.std <= 0).any():
            raise ValueError("every mode needs a positive standard deviation")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise ValueError(
                f"expected faces (F, 3) with F >= 1, got {self.faces.shape}"
            )
        if self.faces.min() < 0 or self.faces.max() >= P:
            raise ValueError(f"faces index vertices outside [0, {P})")
        if self.landmarks.ndim != 1 or (
            len(self.landmarks)
            and (self.landmarks.min() < 0 or self.landmarks.max() >= P)
        ):
            raise ValueError(
                f"expected landmarks (L,) of vertex ids in [0, {P}), got shape "
                f"{self.landmarks.shape}"
            )
        if self.mirror.shape != (P,) or self.mirror.min() < 0 or self.mirror.max() >= P:
            raise ValueError(
                f"expected mirror ({P},) of vertex ids in [0, {P}), got shape "
                f"{self.mirror.shape}"
            )
        if not np.array_equal(self.mirror[self.mirror], np.arange(P)):
            raise ValueError(
                "mirror must be an involution: mirror[mirror[i]] == i for every vertex"
            )
        if self.spectrum.ndim != 1 or len(self.spectrum) < K:
            raise ValueError(
                f"expected spectrum (M,) with M >= K = {K}, got {self.spectrum.shape}"
            )
        for name in ("mean", "components", "std", "spectrum"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} contains non-finite values (NaN or inf)")

    # ---------------------------------------------------------------------------- sizes
    @property
    def n_points(self) -> int:
        """P, the number of vertices."""
        return self.mean.shape[0]

    @property
    def n_modes(self) -> int:
        """K, the number of shape modes."""
        return self.components.shape[0]

    def explained_variance_ratio(self) -> np.ndarray:
        """Cumulative fraction of the population variance explained by the first k
        modes, (M,)."""
        return np.cumsum(self.spectrum) / self.spectrum.sum()

    # ---------------------------------------------------------------------------- Eq. 1
    def _basis(
        self, device: torch.device, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        key = (str(device), dtype)
        if key not in self._torch_cache:
            mean = torch.as_tensor(self.mean, dtype=dtype, device=device).reshape(-1)
            phi = torch.as_tensor(
                (self.components * self.std[:, None, None]).reshape(self.n_modes, -1),
                dtype=dtype,
                device=device,
            )
            self._torch_cache[key] = (mean, phi)
        return self._torch_cache[key]

    def shape(self, alpha: torch.Tensor) -> torch.Tensor:
        """Eq. 1: shapes ``(..., P, 3)`` in mm from standard-normal coefficients
        ``alpha`` (..., K).

        A floating ``alpha`` gives shapes of its dtype; an integer one is computed in
        float32. Refused: anything but a real tensor (``TypeError``), a last dimension
        other than K and non-finite coefficients (``ValueError``).
        """
        if not isinstance(alpha, torch.Tensor):
            raise TypeError(
                f"expected alpha as a torch.Tensor (..., {self.n_modes}), got "
                f"{type(alpha).__name__}"
            )
        if alpha.is_complex() or alpha.dtype == torch.bool:
            raise TypeError(
                f"expected alpha as real coefficients, got dtype {alpha.dtype}; pass a "
                "float tensor"
            )
        if alpha.dim() < 1 or alpha.shape[-1] != self.n_modes:
            raise ValueError(
                f"expected alpha (..., {self.n_modes}), got {tuple(alpha.shape)}: one "
                "coefficient per mode of this model; pass coefficients of this 3DMM (a "
                "network or file made for another model has other modes)"
            )
        if alpha.is_floating_point() and not torch.isfinite(alpha).all():
            bad = torch.nonzero(~torch.isfinite(alpha.detach()))[0].tolist()
            raise ValueError(
                f"alpha contains non-finite coefficients (NaN or inf; the first at "
                f"index {tuple(bad)} of shape {tuple(alpha.shape)}); pass finite "
                "coefficients (a NaN here usually comes from a diverged network)"
            )
        mean, phi = self._basis(
            alpha.device, alpha.dtype if alpha.is_floating_point() else torch.float32
        )
        flat = mean + alpha.to(phi.dtype) @ phi
        return flat.reshape(*alpha.shape[:-1], self.n_points, 3)

    def coefficients(self, shapes: torch.Tensor) -> torch.Tensor:
        """The coefficients ``(..., K)`` of the model shape closest to ``shapes`` (...,
        P, 3) in mm.

        An orthogonal projection onto the model's subspace: the shapes must already be
        in the model frame (no alignment is done here). ``shape(coefficients(s)) == s``
        for any ``s`` the model spans.
        """
        if not isinstance(shapes, torch.Tensor) or shapes.shape[-2:] != (
            self.n_points,
            3,
        ):
            got = (
                tuple(shapes.shape)
                if hasattr(shapes, "shape")
                else type(shapes).__name__
            )
            raise ValueError(
                f"expected shapes as a torch.Tensor (..., {self.n_points}, 3), got "
                f"{got}"
            )
        if not shapes.is_floating_point():
            raise TypeError(
                "expected shapes as a floating-point tensor, got dtype "
                f"{shapes.dtype}; convert them explicitly, e.g. with .double()"
            )
        if not torch.isfinite(shapes).all():
            raise ValueError(
                "shapes contain non-finite coordinates (NaN or inf); pass finite shapes"
            )
        mean, _ = self._basis(shapes.device, shapes.dtype)
        comps = torch.as_tensor(
            self.components.reshape(self.n_modes, -1),
            dtype=shapes.dtype,
            device=shapes.device,
        )
        std = torch.as_tensor(self.std, dtype=shapes.dtype, device=shapes.device)
        return ((shapes.reshape(*shapes.shape[:-2], -1) - mean) @ comps.T) / std

    def project(self, shapes: torch.Tensor) -> torch.Tensor:
        """The model faces ``(..., P, 3)`` mm closest to ``shapes`` (..., P, 3) mm in
        the model frame: ``shape(coefficients(shapes))``, the best answer a network
        that regresses the coefficients can give."""
        return self.shape(self.coefficients(shapes))

    def sample_coefficients(
        self, n: int, generator: torch.Generator | np.random.Generator
    ):
        """``n`` standard-normal coefficient vectors, (n, K).

        A ``torch.Generator`` gives a float32 tensor, a ``numpy.random.Generator`` a
        float64 array.
        """
        if isinstance(n, bool) or int(n) != n or n < 0:
            raise ValueError(f"expected a count n >= 0 of samples, got {n!r}")
        n = int(n)
        if isinstance(generator, torch.Generator):
            return torch.randn(n, self.n_modes, generator=generator)
        if isinstance(generator, np.random.Generator):
            return generator.standard_normal((n, self.n_modes))
        raise TypeError(
            "expected a torch.Generator or numpy.random.Generator, got "
            f"{type(generator).__name__}"
        )

    def mirror_shapes(self, shapes):
        """Mirror images of shapes ``(..., P, 3)`` (see :func:`mirror_shapes`)."""
        return mirror_shapes(shapes, self.mirror)

    # ------------------------------------------------------------------------- building
    @classmethod
    def fit(
        cls,
        shapes: np.ndarray,
        faces: np.ndarray,
        landmarks: np.ndarray,
        mirror: np.ndarray,
        *,
        variance: float = 0.99,
        scale: bool = True,
        reference: np.ndarray | None = None,
    ) -> "MorphableModel":
        """Build a model from shapes ``(N, P, 3)`` in mm that share one topology (paper,
        4.1).

        Generalized Procrustes alignment (rotation, translation and, with
        ``scale=True``, isotropic scale; see
        :func:`facelib.geometry.procrustes.generalized_procrustes`: the result is
        expressed in the frame and size of ``reference``, by default the average input
        shape), then PCA of the aligned shapes in the tangent space at the mean, keeping
        the fewest modes whose variance is at least the fraction ``variance`` of the
        total.

        The tangent space: before the PCA, the part of every aligned shape's deviation
        from the mean that a similarity transform of the mean would produce
        (:func:`similarity_directions`; without scale when ``scale=False``) is removed.
        Alignment removes it only to first order: shapes normalised to one size still
        differ in size at second order (about (deviation / size)² of the size, a few
        tenths of a millimetre for faces), and PCA turns that into modes that scale the
        whole face. A network trained on the reprojection loss then uses such modes,
        tens of standard deviations deep, to trade the face's size against the camera's
        distance, which no photograph can tell apart. In the tangent space no
        combination of modes moves, turns or (with ``scale``) resizes the mean shape to
        first
        order: pose and size are the camera's.
        """
        if not 0.0 < variance <= 1.0:
            raise ValueError(f"expected a variance fraction in (0, 1], got {variance}")
        X = _real_array(shapes, "shapes")
        if X.ndim != 3 or X.shape[2] != 3 or X.shape[0] < 3:
            raise ValueError(f"expected shapes (N, P, 3) with N >= 3, got {X.shape}")
        if not np.isfinite(X).all():
            bad = np.flatnonzero(~np.isfinite(X).all(axis=(1, 2)))
            raise ValueError(
                f"shapes {bad.tolist()[:10]} contain non-finite coordinates (NaN or "
                "inf); drop or repair them before building the model"
            )
        aligned = generalized_procrustes(X, scale=scale, reference=reference).aligned
        mean = aligned.mean(axis=0)
        centred = (aligned - mean).reshape(len(X), -1)
        gauge = similarity_directions(mean, scale)
        centred = centred - (centred @ gauge.T) @ gauge  # the tangent space at the mean
        spectrum, vt = _principal_components(centred)
        ratio = np.cumsum(spectrum) / spectrum.sum()
        k = int(np.searchsorted(ratio, variance - 1e-12) + 1)
        return cls(
            mean=mean,
            components=vt[:k].reshape(k, -1, 3),
            std=np.sqrt(spectrum[:k]),
            faces=faces,
            landmarks=landmarks,
            mirror=mirror,
            spectrum=spectrum,
        )

    # -------------------------------------------------------------------------- on disk
    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the model, by name."""
        return {name: getattr(self, name) for name in _ARRAYS}

    def fingerprint(self) -> str:
        """sha256 (hex) over the model's arrays: names a model in checkpoints and
        manifests."""
        h = hashlib.sha256()
        for name, arr in self.arrays().items():
            h.update(name.encode())
            h.update(str(arr.dtype).encode() + str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to one ``.npz`` file, atomically (a temporary file renamed
        into place)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"a morphable model is saved as .npz, got {path.name!r}")

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, format_version=np.array(_FORMAT_VERSION), **self.arrays())

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MorphableModel":
        """Read a model written by :meth:`save`; the arrays are validated.

        ``FileNotFoundError`` when there is no file; ``ValueError``, naming the file,
        for one that is not a readable ``.npz`` (corrupt, truncated, pickled), lacks
        or adds arrays, has another format version, or holds an invalid model."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no morphable model at {path}: build it first (notebook 01_dataset)"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                contents = {name: data[name] for name in data.files}
        except (
            Exception
        ) as err:  # zipfile.BadZipFile, ValueError, OSError, EOFError ...
            raise ValueError(
                f"{path} is not a readable .npz morphable model ({type(err).__name__}: "
                f"{err}); rebuild it"
            ) from err
        missing = [
            name for name in ("format_version", *_ARRAYS) if name not in contents
        ]
        if missing:
            raise ValueError(
                f"{path} is not a morphable model file: missing arrays {missing}; "
                "rebuild it"
            )
        extra = sorted(set(contents) - {"format_version", *_ARRAYS})
        if extra:
            raise ValueError(
                f"{path} is not a morphable model file: unknown arrays {extra}; "
                "rebuild it"
            )
        raw_version = contents.pop("format_version")
        if raw_version.shape != () or raw_version.dtype.kind not in "iu":
            raise ValueError(
                f"{path} is not a morphable model file: format_version is "
                f"{raw_version.dtype} {raw_version.shape}, not an integer; rebuild it"
            )
        version = int(raw_version)
        if version != _FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {version}, expected {_FORMAT_VERSION}; "
                "rebuild it"
            )
        try:
            return cls(**contents)
        except ValueError as err:
            raise ValueError(
                f"{path} holds an invalid morphable model: {err}; rebuild it"
            ) from err
