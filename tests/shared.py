"""Where the shared corpus lives: the conformance cases and the sample definitions.

The tests take each folder from its environment variable, or find it in ``../shared`` beside the
checkout (where a clone of this repository normally sits). A folder that is in neither place is an
error, so a missing corpus fails the run instead of silently running fewer tests.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def shared_folder(variable: str, name: str, marker: str) -> Path:
    """The folder ``name`` of the shared corpus, which must hold ``marker`` (a file or folder)."""
    value = os.environ.get(variable)
    path = Path(value) if value else CHECKOUT.parent / "shared" / name
    if not (path / marker).exists():
        where = f"{variable}={value}" if value else f"{path} (set {variable} to its location)"
        raise RuntimeError(f"the shared corpus was not found: {where} has no {marker}")
    return path
