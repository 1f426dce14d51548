"""Random identifiers: 32 lower-case hex characters (128 random bits), as the wire shows uuids."""

from __future__ import annotations

import os


def new_uuids(count: int) -> list[str]:
    """``count`` fresh ids from one read of the OS's random source (a batch needs thousands)."""
    blob = os.urandom(16 * count).hex()
    return [blob[i : i + 32] for i in range(0, 32 * count, 32)]
