"""Lint rules: legal."""

from __future__ import annotations
