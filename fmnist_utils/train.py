"""Seeds and profiles (the training loop itself arrives with the model lessons).

A profile says how much work a notebook does:

* ``smoke``: tiny subsets and one short epoch; proves the code runs (CI).
* ``default``: what a learner gets top to bottom, at most 5 minutes on a 2-core CPU.
* ``full``: best results; minutes to an hour on a CPU.

Every notebook has a ``parameters`` cell with ``PROFILE = "default"`` and then calls
:func:`resolve_profile`, so ``$FMNIST_PROFILE`` (set by the test suite) wins over both the
literal and papermill's injected value.
"""

from __future__ import annotations

import os
import random

import numpy as np

PROFILES: tuple[str, ...] = ("smoke", "default", "full")
ENV_VAR = "FMNIST_PROFILE"


def resolve_profile(profile: str = "default") -> str:
    """The profile to use: ``$FMNIST_PROFILE`` when set, else ``profile``; checked.

    Example:
        >>> import os; os.environ.pop("FMNIST_PROFILE", None) and None
        >>> resolve_profile("smoke")
        'smoke'
    """
    chosen = os.environ.get(ENV_VAR) or profile
    if chosen not in PROFILES:
        source = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "PROFILE"
        raise ValueError(f"{source} is {chosen!r}; it must be one of {', '.join(PROFILES)}.")
    return chosen


def set_seed(seed: int = 42) -> None:
    """Seed Python, NumPy and (when installed and imported) Keras/TensorFlow.

    Example:
        >>> set_seed(0); a = np.random.rand()
        >>> set_seed(0); a == np.random.rand()
        True
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency, but keep seeding usable
        return
    keras.utils.set_random_seed(seed)
