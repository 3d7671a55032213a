"""Import ``autopilot.state`` / ``autopilot.journal`` in a worker without the package init.

``autopilot/__init__.py`` imports the metrics stack (pandas, numba: ~1.8 s), which the
state layer does not use. The crash loop starts hundreds of workers, so each worker
registers a bare ``autopilot`` package object whose ``__path__`` is the real package
folder: the submodules then import from the very same source files as in production,
only the unrelated package-level imports are skipped.

Used only by the worker scripts in this folder (run as ``python <script>``).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def install() -> None:
    """Register the light ``autopilot`` package (idempotent)."""
    if "autopilot" in sys.modules:
        return
    spec = importlib.util.find_spec("autopilot")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("autopilot is not installed in this interpreter")
    package = types.ModuleType("autopilot")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = str(Path(package.__path__[0]) / "__init__.py")
    sys.modules["autopilot"] = package
