"""Lint rules: datasets."""

from __future__ import annotations
