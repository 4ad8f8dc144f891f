"""The connector tests use the request tests' database helpers (tests/requests/dsr_shop.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "requests"))
