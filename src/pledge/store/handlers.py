"""The store's own periodic job (found by workers as `pledge.store.handlers`).

`audit.checkpoint` runs once a minute: when events were appended since the last checkpoint,
it signs the chain's head and publishes it as the external head, so at most a minute of
events is ever without a signed head (count-based checkpoints alone left up to
`checkpoint_every - 1` uncovered for as long as nothing else was written). Done jobs of this
kind older than a day are deleted as it goes, so a job a minute does not grow the table.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from pledge.store import audit
from pledge.store.jobs import JobContext, handler, periodic
from pledge.store.tables import Job, utcnow

CHECKPOINT_JOB = "audit.checkpoint"
CHECKPOINT_EVERY = timedelta(minutes=1)
KEEP_DONE = timedelta(days=1)


@handler(CHECKPOINT_JOB)
def checkpoint_audit_head(ctx: JobContext) -> None:
    """Sign the head if it has no checkpoint yet; publish it once this job commits."""
    audit.sign_head(ctx.session)
    ctx.session.execute(
        delete(Job).where(
            Job.kind == CHECKPOINT_JOB,
            Job.state == "done",
            Job.finished_at < utcnow() - KEEP_DONE,
        )
    )


periodic(CHECKPOINT_JOB, CHECKPOINT_EVERY)
