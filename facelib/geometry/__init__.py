"""The paper's geometry: ``camera`` (Eq. 3-4 and the axis conventions), ``procrustes``,
``morphable_model`` (Eq. 1, Procrustes + PCA) and ``mirror`` (shapes, cameras and whole
scenes across the symmetry plane). Imports nothing else of facelib but plumbing."""
