"""facelib: learned single- and multi-view 3D face reconstruction (Ramon, Escur,
Giró-i-Nieto, ICCV-W 2019).

The layers, one sub-package each:

* :mod:`facelib.geometry`: camera (Eq. 3-4), Procrustes, the 3DMM (Eq. 1), mirroring,
  face crops (framing);
* :mod:`facelib.graphics`: the rasterizer and shading;
* :mod:`facelib.real`: real faces to check against (a scan, photographs, a detector);
* :mod:`facelib.data`: the on-disk data set as typed records;
* :mod:`facelib.world`: the synthetic face world and the data set build;
* :mod:`facelib.learn`: Eq. 2, the networks, their training and inference;
* :mod:`facelib.evaluation`: the 3DFAW-2019 ARMSE, Table 1 and the book's tables;
* :mod:`facelib.reconstruct`: photographs on disk to a textured mesh (the ``facelib
  reconstruct`` command, :mod:`facelib.cli`).

Plumbing: :mod:`facelib.storage`, :mod:`facelib.parallel`, :mod:`facelib.tables`;
drawing and running the book: :mod:`facelib.viz`, :mod:`facelib.book`.
"""

__version__ = "0.1.0"
