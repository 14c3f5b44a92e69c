"""The synthetic face world ("SynthFAW"): ``template``, ``identity``, ``appearance``,
``scenes`` (photographs and 3DFAW-like captures),
``scans``, ``registration``, ``checks`` (measurements of a built world) and ``build``
(the data set build as named stages). Writes :mod:`facelib.data`; learning never imports
it."""
