"""The peer rasterizer of ``make bench``: OpenGL on the CPU, through moderngl.

`moderngl <https://pypi.org/project/moderngl/>`_ (a pip wheel, the ``bench`` extra)
opens a headless EGL context; on a machine without a GPU the system's Mesa answers it
with **llvmpipe**, Mesa's multi-threaded CPU rasterizer (shaders compiled to machine
code by LLVM). That is the CPU rasterizer a C++ program gets on such a machine, and so
a fair yardstick for our PyTorch one. It needs the system's Mesa EGL libraries
(``libEGL_mesa``, present on this project's machines); without them
:func:`open_context` raises :class:`PeerUnavailable` with the reason.

:class:`GLRenderer` draws the scene :func:`facelib.graphics.render.render` draws in the
benchmark: one mesh, a pinhole camera ``K, q, t`` with the same axis and pixel-centre
conventions (:mod:`facelib.geometry.camera`), back faces culled, one sample per pixel,
a depth test, and Lambertian shading per pixel ``albedo * (ambient + diffuse * max(0, n
. l))`` with the interpolated vertex normal renormalised, over a black background.
Images are read back as (H, W, 3) uint8 numpy arrays.

The mesh is uploaded once (:meth:`GLRenderer.__init__`), so a frame costs only the
camera's uniforms, the draw and the readback: the peer's best case.

:func:`measure_in_subprocess` times it in a fresh process: Mesa's llvmpipe loads its
own LLVM, and importing triton (``torch.compile``) into a process that holds it crashes
(a segmentation fault), whichever comes first. The child imports numpy and moderngl
only.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

__all__ = [
    "PeerUnavailable",
    "open_context",
    "GLRenderer",
    "projection_matrix",
    "measure",
    "measure_in_subprocess",
]

_VERTEX = """
#version 330
uniform mat3 R;
uniform vec3 t;
uniform mat4 proj;
in vec3 in_pos;
in vec3 in_normal;
out vec3 v_normal;
void main() {
    v_normal = in_normal;
    gl_Position = proj * vec4(R * in_pos + t, 1.0);
}
"""

_FRAGMENT = """
#version 330
uniform vec3 light;
uniform vec3 albedo;
uniform float ambient;
uniform float diffuse;
in vec3 v_normal;
out vec4 f_color;
void main() {
    float ndl = max(dot(normalize(v_normal), light), 0.0);
    f_color = vec4(clamp(albedo * (ambient + diffuse * ndl), 0.0, 1.0), 1.0);
}
"""


class PeerUnavailable(RuntimeError):
    """moderngl or a headless OpenGL context cannot be had on this machine."""


def open_context():
    """A headless moderngl context on EGL (Mesa's llvmpipe without a GPU).

    Raises :class:`PeerUnavailable` naming what is missing."""
    try:
        import moderngl
    except ImportError as err:
        raise PeerUnavailable(
            "moderngl is not installed: pip install -e '.[bench]'"
        ) from err
    try:
        return moderngl.create_standalone_context(backend="egl")
    except Exception as err:  # glcontext raises plain Exceptions
        raise PeerUnavailable(
            f"no headless OpenGL (EGL) context: {err}; the peer needs the system's "
            "Mesa EGL libraries (Debian: libegl1 and libegl-mesa0)"
        ) from err


def projection_matrix(K: np.ndarray, H: int, W: int, near: float, far: float):
    """OpenGL's clip matrix (4, 4) for the pinhole ``K`` (3, 3) px of an H x W image
    (pixel centres at integer coordinates, +v down) and camera-frame points (OpenCV
    axes, mm) with depth in [near, far] mm.

    Pixel (u, v) maps to normalised device coordinates x = 2 (u + 0.5) / W - 1 and y =
    2 (v + 0.5) / H - 1: OpenGL's row 0 is then the image's top row, and the first row
    read back is the image's first row."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    P = np.zeros((4, 4))
    P[0, 0], P[0, 1], P[0, 2] = 2 * fx / W, 2 * K[0, 1] / W, 2 * (cx + 0.5) / W - 1
    P[1, 1], P[1, 2] = 2 * fy / H, 2 * (cy + 0.5) / H - 1
    P[2, 2], P[2, 3] = (far + near) / (far - near), -2 * far * near / (far - near)
    P[3, 2] = 1.0
    return P


class GLRenderer:
    """Lambertian images of one mesh through OpenGL (see the module doc).

    Args:
        vertices: (P, 3) mm, model frame.
        faces: (F, 3) vertex ids, outward winding (as :mod:`facelib.graphics.render`).
        normals: (P, 3) unit vertex normals, model frame.
        size: the images' side S, px.
        context: a context from :func:`open_context` (opened here if None).
        near, far: the depth range, mm.
    """

    def __init__(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        normals: np.ndarray,
        size: int,
        *,
        context=None,
        near: float = 10.0,
        far: float = 10_000.0,
    ):
        import moderngl

        self.ctx = context if context is not None else open_context()
        self.size, self.near, self.far = size, near, far
        ctx = self.ctx
        self.program = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        data = np.concatenate([vertices, normals], axis=1).astype("f4")
        self._vbo = ctx.buffer(data.tobytes())
        self._ibo = ctx.buffer(np.asarray(faces, dtype="i4").tobytes())
        self.vao = ctx.vertex_array(
            self.program,
            [(self._vbo, "3f 3f", "in_pos", "in_normal")],
            index_buffer=self._ibo,
            index_element_size=4,
        )
        self.fbo = ctx.framebuffer(
            color_attachments=[ctx.renderbuffer((size, size), components=4)],
            depth_attachment=ctx.depth_renderbuffer((size, size)),
        )
        self._moderngl = moderngl

    def render(
        self,
        K: np.ndarray,
        R: np.ndarray,
        t: np.ndarray,
        light: np.ndarray,
        *,
        albedo: float = 0.7,
        ambient: float = 0.35,
        diffuse: float = 0.75,
    ) -> np.ndarray:
        """One image (S, S, 3) uint8 through the camera ``K`` (3, 3) px, ``R`` (3, 3)
        and ``t`` (3,) mm (``X_cam = R X + t``), lit from the unit direction ``light``
        (3,) in the model frame; grey ``albedo`` in [0, 1]."""
        ctx, prog, S = self.ctx, self.program, self.size
        # GLSL matrices are column-major: send the transposes' rows
        prog["R"].write(np.ascontiguousarray(R.T, dtype="f4").tobytes())
        prog["t"].value = tuple(float(x) for x in t)
        P = projection_matrix(K, S, S, self.near, self.far)
        prog["proj"].write(np.ascontiguousarray(P.T, dtype="f4").tobytes())
        prog["light"].value = tuple(float(x) for x in light)
        prog["albedo"].value = (albedo, albedo, albedo)
        prog["ambient"].value, prog["diffuse"].value = ambient, diffuse
        self.fbo.use()
        ctx.enable(self._moderngl.DEPTH_TEST | self._moderngl.CULL_FACE)
        # facelib's front faces run clockwise in the image (u right, v down), and
        # window y runs with v here
        ctx.front_face = "cw"
        ctx.cull_face = "back"
        self.fbo.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)
        self.vao.render(self._moderngl.TRIANGLES)
        raw = self.fbo.read(components=3, alignment=1)
        return np.frombuffer(raw, dtype=np.uint8).reshape(S, S, 3)

    def release(self) -> None:
        """Free the GPU-side objects (the context stays open)."""
        for obj in (self.vao, self._vbo, self._ibo, self.fbo, self.program):
            obj.release()


def measure(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    light: np.ndarray,
    size: int,
    repeats: int,
) -> dict:
    """Time :class:`GLRenderer` on B cameras ``K`` (B, 3, 3) px, ``R`` (B, 3, 3), ``t``
    (B, 3) mm, one image after the other, readback included: the best of ``repeats``
    passes after an untimed one.

    Returns ``images_per_second``, the last pass's ``images`` (B, S, S, 3) uint8 and
    ``renderer`` (OpenGL's renderer and version strings). Raises
    :class:`PeerUnavailable` when no context can be had."""
    context = open_context()
    renderer = GLRenderer(vertices, faces, normals, size, context=context)
    B = len(K)

    def one_pass():
        return [renderer.render(K[k], R[k], t[k], light) for k in range(B)]

    images = one_pass()
    best = float("inf")
    for _ in range(repeats):
        tick = time.perf_counter()
        images = one_pass()
        best = min(best, time.perf_counter() - tick)
    info = f"{context.info['GL_RENDERER']}, OpenGL {context.info['GL_VERSION']}"
    renderer.release()
    context.release()
    return dict(images_per_second=B / best, images=np.stack(images), renderer=info)


def measure_in_subprocess(*args) -> dict:
    """:func:`measure` in a fresh (spawned) process; see the module doc. A child that
    dies (a crash in the OpenGL driver) raises :class:`PeerUnavailable` too."""
    spawn = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            return pool.submit(measure, *args).result()
    except BrokenProcessPool as err:
        raise PeerUnavailable(f"the peer's process died ({err})") from err
