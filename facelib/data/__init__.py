"""The data set record: what the face world writes, and what learning and evaluation
read.

``template`` (the shared topology), ``scan`` (raw scans and their files), ``dataset``
(the typed :class:`~facelib.data.dataset.Dataset` and its folder format).
"""
