"""What every Jinja environment of Pledge shares."""

from __future__ import annotations

from functools import cache

from jinja2 import BytecodeCache, FileSystemBytecodeCache


@cache
def bytecode_cache() -> BytecodeCache | None:
    """Compiled templates kept across processes (Jinja's per-user temp folder).

    Compiling the notice templates costs about half a second; with the cache a new process
    renders at once. Without a usable folder, templates are simply compiled each time.
    """
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None
