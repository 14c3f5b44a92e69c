"""The networks and their training: ``losses`` (Eq. 2), ``loss_landscape``, ``nets``,
``views`` (which N photographs a network sees), ``batches``, ``precision``,
``averaging``, ``checkpoints``, ``validation``, ``training``, ``distributed`` (the
ranks of a torchrun launch), ``train`` (the command), ``throughput`` and
``inference``. Reads :mod:`facelib.data`, never the face world."""
