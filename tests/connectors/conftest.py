"""Connector tests reuse the engine tests' database helpers (tests/request_engine/dsr_shop.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "request_engine"))
