"""Lint rules: notices."""

from __future__ import annotations
