"""A worker that dies mid-erasure resumes after its last checkpoint and repeats no step."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flowsupport import ALICE, confirmed_request, dump, flow_worker, run_jobs

from pledge.manifest.model import Manifest
from pledge.requests.engine import Engine, Step
from pledge.requests.report import ErasureState
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.tables import utcnow


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler code catches it."""


def test_erasure_resumes_without_repeating(
    flow_store: Store, manifest: Manifest, product: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    done = confirmed_request(flow_store, manifest, "erasure")
    calls: Counter[str] = Counter()
    original = Engine.run_step

    def run_step(self: Engine, step: Step, state: ErasureState) -> Any:
        calls[step.id] += 1
        result = original(self, step, state)
        if sum(calls.values()) == 2 and not getattr(run_step, "crashed", False):
            run_step.crashed = True  # type: ignore[attr-defined]
            raise Crash  # after the store changed, before the checkpoint
        return result

    monkeypatch.setattr(Engine, "run_step", run_step)
    with pytest.raises(Crash):
        run_jobs(flow_store)
    # the lease runs out; another worker takes the job over
    later = flow_worker(flow_store, clock=lambda: utcnow() + timedelta(hours=1), poll_interval=0.01)
    later.run(threading.Event(), once=True)
    run_jobs(flow_store)
    with flow_store.reader() as session:
        req = session.get(DataRequest, done.id)
        assert req is not None and req.state == "completed", req.result
    first = next(iter(calls))
    assert calls[first] == 1, "the checkpointed step ran again"
    assert max(calls.values()) <= 2  # only the step cut off before its checkpoint repeats
    users = dump(product["FLOW_APP_URL"])["users"]
    assert not any(ALICE in map(str, row) for row in users)
