"""Job handlers for the worker tests; imported by the tests and by `pledge worker --import`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import text

from pledge.store.jobs import JobContext, handler

SIDE_EFFECTS = (
    "CREATE TABLE test_side_effects (id INTEGER PRIMARY KEY {auto}, job_id INTEGER NOT NULL, "
    "attempt INTEGER NOT NULL, pid INTEGER NOT NULL)"
)


def side_effects_ddl(postgres: bool) -> str:
    return SIDE_EFFECTS.format(auto="GENERATED ALWAYS AS IDENTITY" if postgres else "")


@handler("test.side_effect", backoff_base=0.05)
def side_effect(ctx: JobContext) -> None:
    """Write a side effect in the job's own transaction, then (first time only) dawdle."""
    ctx.session.execute(
        text("INSERT INTO test_side_effects (job_id, attempt, pid) VALUES (:j, :a, :p)"),
        {"j": ctx.job_id, "a": ctx.attempt, "p": os.getpid()},
    )
    marker_dir = ctx.payload.get("marker_dir")
    if marker_dir:
        (Path(marker_dir) / f"{ctx.job_id}-{ctx.attempt}").touch()
    if ctx.attempt == 1 and ctx.payload.get("sleep_first"):
        time.sleep(float(ctx.payload["sleep_first"]))
    time.sleep(float(ctx.payload.get("sleep", 0)))
