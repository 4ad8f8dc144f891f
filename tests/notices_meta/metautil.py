"""Shared constants of the notice history, RoPA, DPV and GPC tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "acme"
NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

Edit = Callable[[str, str], None]
"""Replace one exact piece of the manifest text."""
