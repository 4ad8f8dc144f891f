"""Pledge: a privacy notice made executable."""

__version__ = "0.1.0"
