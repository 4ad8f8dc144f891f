"""The manifest: Pledge's declared source of truth (`pledge.yaml` and its datasets).

This package imports nothing else of Pledge, so every other layer may depend on it.
"""

from pledge.manifest.findings import Finding, Location, Severity
from pledge.manifest.load import LoadResult, check, load_manifest
from pledge.manifest.model import Manifest

__all__ = ["Finding", "LoadResult", "Location", "Manifest", "Severity", "check", "load_manifest"]
