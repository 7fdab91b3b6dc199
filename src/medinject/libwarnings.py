"""Third-party warnings the user cannot act on, silenced narrowly (by message and category) where they arise.

PEFT and TRL read a model's `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning on
every adapter load and every training run; the fix belongs to those libraries, not to the user.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

LIBRARY_DEPRECATIONS = (r"`is_gradient_checkpointing` is deprecated",)


@contextlib.contextmanager
def quiet_library_deprecations() -> Iterator[None]:
    with warnings.catch_warnings():
        for message in LIBRARY_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=FutureWarning)
        yield
