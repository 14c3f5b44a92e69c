"""Benchmarks of facelib, outside the library: ``python -m benchmarks.run`` (``make
bench``) measures each part against a baseline in the same run, and
``python -m benchmarks.training_throughput`` the training step alone."""
