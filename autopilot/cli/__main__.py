"""``python -m autopilot.cli``."""

from __future__ import annotations

import sys

from autopilot.cli.main import main

sys.exit(main())
