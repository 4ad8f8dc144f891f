"""Lint rules: languages."""

from __future__ import annotations
