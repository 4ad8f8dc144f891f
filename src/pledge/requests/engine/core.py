"""The `Engine`: one manifest over its connectors, running access, erasure and rectification.

It binds the plan once (`binding`), reads the graph level by level with the collections of a
level spread over a small thread pool (`traversal` says what each is read with), and hands the
rows to `erasure` and `rectification`; erasure runs as checkpointable steps (`run_step`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pledge.connectors.base import Connector
from pledge.manifest.graph import Graph, PlanError, plan_graph
from pledge.manifest.model import Manifest
from pledge.requests.engine.binding import Binder
from pledge.requests.engine.erasure import collect, collection_report, erase_step, verify
from pledge.requests.engine.plan import Bound, Plan, Step
from pledge.requests.engine.rectification import apply_corrections, correction_fields
from pledge.requests.engine.traversal import (
    Found,
    Inputs,
    identity_values,
    inputs_for,
    read_collection,
)
from pledge.requests.report import (
    AccessResult,
    CollectionData,
    ErasureReport,
    ErasureState,
    ForwardedSystem,
    RectificationReport,
    TargetRow,
)

log = logging.getLogger("pledge.requests")


class Engine:
    """Executes access, erasure and rectification for one manifest over its connectors."""

    def __init__(
        self,
        manifest: Manifest,
        connectors: Mapping[str, Connector],
        *,
        masking_key: bytes | None = None,
        workers: int = 4,
    ) -> None:
        self.manifest = manifest
        self.connectors = dict(connectors)
        self.masking_key = masking_key
        self.workers = max(1, workers)
        self._plan: Plan | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(
        cls,
        manifest: Manifest,
        env: Mapping[str, str] | None = None,
        *,
        masking_key: bytes | None = None,
        workers: int = 4,
        **options: Any,
    ) -> Engine:
        """An engine with a connector for every connection the plan needs (from `url_env`)."""
        from pledge.connectors import open_connectors

        connectors = open_connectors(manifest, env, **options)
        return cls(manifest, connectors, masking_key=masking_key, workers=workers)

    def close(self) -> None:
        """Stop the thread pool and close the connectors."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for connector in self.connectors.values():
            connector.close()

    # -- planning --------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The bound plan (reflection happens once per engine)."""
        if self._plan is None:
            graph = plan_graph(self.manifest)
            self._plan = Binder(self.manifest, self.connectors, self.masking_key, graph).bind()
        return self._plan

    def access_plan(self) -> Plan:
        plan = self.plan()
        if plan.access_problems:
            raise PlanError("the datasets do not match the stores", plan.access_problems)
        return plan

    def erasure_plan(self) -> Plan:
        """The plan with erasure checked: every problem is raised before anything is touched."""
        plan = self.access_plan()
        if plan.erasure_problems:
            raise PlanError(
                "erasure cannot be planned safely; nothing was changed", plan.erasure_problems
            )
        return plan

    # -- reading ---------------------------------------------------------------------------

    def access(self, identities: Mapping[str, Iterable[Any]]) -> AccessResult:
        """Every row of the person in every controller collection, by system and collection."""
        plan = self.access_plan()
        found = self.traverse(plan, identity_values(identities), track=False)
        data = tuple(
            CollectionData(
                b.node.system,
                b.node.dataset,
                b.node.name,
                b.spec.columns[: b.declared],
                tuple(row[: b.declared] for row in found[b.id].rows),
                found[b.id].case_only,
            )
            for b in plan.ordered()
            if found[b.id].rows
        )
        return AccessResult(data, *_context(plan.graph))

    def traverse(
        self,
        plan: Plan,
        identities: Mapping[str, Sequence[Any]],
        *,
        track: bool,
        known: Mapping[str, Sequence[TargetRow]] | None = None,
    ) -> dict[str, Found]:
        """Read the graph level by level; with `track`, tell the person's own rows from shared.

        `known` rows (verification: the rows erasure changed) are read by key as well, so rows
        added below a masked row are found although its identifiers are gone.
        """
        found: dict[str, Found] = {}
        for level in plan.levels:
            jobs: list[tuple[Bound, Inputs]] = []
            for key in level:
                b = plan.bound[key]
                inputs = inputs_for(b, found, identities, track, (known or {}).get(key, ()))
                if inputs.match:
                    jobs.append((b, inputs))
                else:
                    found[key] = Found([], [] if track else None)
            found.update(self._run(jobs, track))
        return found

    def _run(self, jobs: list[tuple[Bound, Inputs]], track: bool) -> dict[str, Found]:
        """Read one level: per store, its collections split over up to `workers` connections.

        The first chunk runs in the calling thread, so a level of one collection (or an
        engine with one worker) costs no thread hand-off at all.
        """
        groups: dict[str, list[tuple[Bound, Inputs]]] = {}
        for job in jobs:
            groups.setdefault(job[0].connector.key, []).append(job)
        chunks: list[list[tuple[Bound, Inputs]]] = []
        for group in groups.values():
            n = min(self.workers, len(group))
            chunks.extend(group[i::n] for i in range(n))
        if not chunks:
            return {}
        futures = [self._executor().submit(self._read_chunk, c, track) for c in chunks[1:]]
        out = self._read_chunk(chunks[0], track)
        for future in futures:
            out.update(future.result())
        return out

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pledge-dsr")
        return self._pool

    def _read_chunk(self, chunk: list[tuple[Bound, Inputs]], track: bool) -> dict[str, Found]:
        with chunk[0][0].connector.session() as reader:
            return {b.id: read_collection(b, inputs, reader, track) for b, inputs in chunk}

    # -- erasure ---------------------------------------------------------------------------

    def start(self, identities: Mapping[str, Iterable[Any]]) -> ErasureState:
        """A new erasure's state; the plan is checked first (PlanError, nothing touched)."""
        plan = self.erasure_plan()
        return ErasureState(identity_values(identities), secrets.token_hex(16), plan.digest)

    def run_step(self, step: Step, state: ErasureState) -> ErasureState:
        """Run one step and return the new state; a step already done changes nothing."""
        plan = self.erasure_plan()
        if state.plan != plan.digest:
            raise PlanError(
                "the manifest or the stores changed since this erasure started; start it again"
            )
        if step.id in state.done:
            return state
        if step.kind != "collect" and state.targets is None:
            raise PlanError(f"step '{step.id}' needs the collect step first")
        new = state.copy()
        if step.kind == "collect":
            collect(plan, self.traverse(plan, new.identities, track=True), new)
        elif step.kind == "erase":
            assert step.node is not None
            erase_step(plan.bound[step.node], new)
        else:
            found = self.traverse(plan, new.identities, track=True, known=new.targets)
            verify(plan, found, new)
        new.done.append(step.id)
        return new

    def erase(self, identities: Mapping[str, Iterable[Any]]) -> ErasureReport:
        """All steps in one go (the job layer runs them one by one instead)."""
        state = self.start(identities)
        for step in self.erasure_plan().steps:
            state = self.run_step(step, state)
        return self.report(state)

    def report(self, state: ErasureState) -> ErasureReport:
        """The report of an erasure so far: counts and field names, never values."""
        plan = self.plan()
        collections = [collection_report(b, state) for b in plan.ordered()]
        kept = [c for c in collections if c.action != "none" or (c.kept_fields and c.rows_found)]
        return ErasureReport(state.status, kept, *_context(plan.graph))

    # -- rectification ---------------------------------------------------------------------

    def rectify(
        self, identities: Mapping[str, Iterable[Any]], corrections: Mapping[str, Any]
    ) -> RectificationReport:
        """Apply corrections {category or field: new value} to the fields that hold them.

        The person's own rows get every matching field; a shared row only the fields that hold
        one of the person's identifiers. Values never appear in messages or logs.
        """
        plan = self.access_plan()
        fields, unmatched = correction_fields(plan, corrections)
        ids = identity_values(identities)
        found = self.traverse(plan, ids, track=True)
        out = apply_corrections(plan, fields, ids, found)
        log.info("rectification changed %d fields", sum(c.fields_changed for c in out))
        return RectificationReport(out, unmatched, _context(plan.graph)[0])


def _context(graph: Graph) -> tuple[tuple[ForwardedSystem, ...], tuple[str, ...], tuple[str, ...]]:
    forwarded = tuple(
        ForwardedSystem(f.system, f.controller, f.contact_field) for f in graph.forwarded
    )
    return forwarded, graph.manual, tuple(u.node for u in graph.unreachable)
