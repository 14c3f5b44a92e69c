"""facelib: learned single- and multi-view 3D face reconstruction (Ramon, Escur,
Giró-i-Nieto, ICCV-W 2019).

Modules, one concept each: ``camera`` (Eq. 3-4 and the axis conventions),
``morphable_model`` (Eq. 1), ``procrustes``, ``losses`` (Eq. 2), ``template`` and
``identity`` (the synthetic face world), ``appearance``, ``render`` (the rasterizer),
``scenes``, ``scans``, ``registration``, ``dataset``, ``viz`` and ``book`` (the notebook
runner).
"""

__version__ = "0.1.0"
