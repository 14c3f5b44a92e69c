"""The synthetic face world ("SynthFAW"): ``template``, ``identity`` and
``anthropometry`` (its check against published norms), ``head`` (scalp, hair, ears,
eyes, neck and shoulders round the face), ``appearance`` (skin, hair, lights),
``places`` (backgrounds from real photographs), ``photo`` (the camera's pipeline),
``scenes`` (photographs and 3DFAW-like captures), ``scans``, ``registration``,
``checks`` (measurements of a built world) and ``build`` (the data set build as named
stages). Writes :mod:`facelib.data`; learning never imports it."""
