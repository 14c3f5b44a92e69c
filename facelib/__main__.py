"""``python -m facelib reconstruct ...``: the ``facelib`` command
(:mod:`facelib.cli`)."""

import sys

from facelib.cli import main

sys.exit(main())
