"""The label of a bar without a regime, apart from the metrics so reading it costs no NumPy.

The configuration and the allocator compare labels with it, and they load with every command.
"""

from __future__ import annotations

__all__ = ["MISSING_REGIME"]

# The label of a bar whose regime is not known (too little history, a missing price).
MISSING_REGIME = -1
