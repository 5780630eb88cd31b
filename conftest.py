"""Test-session settings for every pytest run here: unit tests, notebook runs and nbval.

The kernels that papermill and nbval start inherit this process's environment, so setting the
variables here keeps every notebook executed by the tests in the smoke profile and keeps their
figures and metrics out of the repository's committed files.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import matplotlib

matplotlib.use("Agg")


_SCRATCH: list[str] = []


def pytest_configure(config):
    scratch = tempfile.mkdtemp(prefix="fmnist-tests-")
    _SCRATCH.append(scratch)
    os.environ.setdefault("FMNIST_PROFILE", "smoke")
    os.environ.setdefault("FMNIST_FIGURES_DIR", os.path.join(scratch, "figures"))
    os.environ.setdefault("FMNIST_METRICS_PATH", os.path.join(scratch, "metrics.json"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_unconfigure(config):
    for scratch in _SCRATCH:
        shutil.rmtree(scratch, ignore_errors=True)
