"""Lint rules: references."""

from __future__ import annotations
