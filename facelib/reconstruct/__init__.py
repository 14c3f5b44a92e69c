"""Photographs in, a textured 3D face out (the ``facelib reconstruct`` command).

* :mod:`~facelib.reconstruct.photos`: reading photographs, finding and framing the face;
* :mod:`~facelib.reconstruct.texture`: the UV layout and the texture from photographs;
* :mod:`~facelib.reconstruct.export`: OBJ/MTL/PNG, PLY, landmarks, cameras, overlays;
* :mod:`~facelib.reconstruct.pipeline`: the whole call (:class:`PhotoReconstructor`).
"""
