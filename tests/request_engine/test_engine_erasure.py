"""Erasure on the real databases: exactly the person's data goes, everyone else's stays, the
plan refuses strategies that cannot work, steps resume after a crash, and verification finds
what is left behind."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dsr_shop import (
    ALICE,
    ALICE_DELETED,
    BOB,
    MASKING_KEY,
    assert_only_alice_erased,
    column,
    env_for,
    execute,
    manifest_copy,
    snapshot,
)

from pledge.connectors import Connector, open_connectors
from pledge.connectors.base import Key, Reader, ReadSpec, Schema, TableName, Writer
from pledge.manifest.graph import PlanError
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.requests.engine import Engine
from pledge.requests.report import ErasureState


def alice_hmac() -> str:
    return hmac.new(MASKING_KEY, ALICE.encode(), hashlib.sha256).hexdigest()


def test_erasure_removes_or_masks_exactly_the_persons_data(engine: Engine, shop_url: str) -> None:
    before = snapshot(shop_url)
    report = engine.erase({"email": [ALICE]})
    after = snapshot(shop_url)

    assert report.status == "completed"
    assert_only_alice_erased(before, after)
    assert after["tenant_users"] == before["tenant_users"]  # processor: never touched

    alice = after["customers"][1]
    assert column("customers", alice, "email") == alice_hmac()
    assert column("customers", alice, "full_name") == "erased"
    assert column("customers", alice, "phone") is None
    assert column("customers", alice, "birth_date") == date(1990, 1, 1)
    code = column("customers", alice, "loyalty_code")
    assert code != "ALC-7731" and len(code) <= 16
    assert column("addresses", after["addresses"][100], "street") == "erased"
    assert column("orders", after["orders"][10], "contact_email") is None
    assert column("orders", after["orders"][10], "gift_note") == "Happy birthday, Bob"
    assert column("shipments", after["shipments"][701], "delivered_on") == date(2024, 1, 1)
    assert column("tickets", after["tickets"][1], "subject") == "[erased]"


def test_erasure_report_counts_rows_and_fields_without_values(engine: Engine) -> None:
    report = engine.erase({"email": [ALICE]})
    by_node = {f"{c.dataset}.{c.collection}": c for c in report.collections}

    addresses = by_node["shop.addresses"]
    assert (addresses.rows_deleted, addresses.rows_kept_referenced) == (1, 2)
    orders = by_node["shop.orders"]
    assert (orders.rows_masked, orders.rows_shared) == (1, 1)
    assert by_node["shop.order_contacts"].rows_deleted == 2
    assert by_node["shop.payments"].kept_fields == ("amount_cents",)
    assert all(c.status in ("erased", "nothing_found") for c in report.collections)
    assert [f.system for f in report.forwarded] == ["partner_portal"]
    text = json.dumps(report.to_json())
    for value in (ALICE, "Alice", "4242", "192.0.2.1", "1990"):
        assert value not in text


def test_erasing_again_finds_nothing_and_changes_nothing(engine: Engine, shop_url: str) -> None:
    engine.erase({"email": [ALICE]})
    once = snapshot(shop_url)

    report = engine.erase({"email": [ALICE]})

    assert report.status == "completed"
    assert snapshot(shop_url) == once


def test_bob_is_untouched_by_alices_erasure_and_keeps_the_shared_order(
    engine: Engine, shop_url: str
) -> None:
    bob_before = engine.access({"email": [BOB]})
    engine.erase({"email": [ALICE]})
    bob_after = engine.access({"email": [BOB]})

    changed = {c.node for c in bob_before.collections if c != bob_after.collection(c.node)}
    assert changed == {"shop.orders"}  # only the shared order's field with Alice's e-mail
    orders = {r["id"]: r for r in bob_after.collection("shop.orders").records()}  # type: ignore[union-attr]
    assert orders[10]["contact_email"] is None
    assert orders[10]["gift_note"] == "Happy birthday, Bob"


# --- plans that cannot work -------------------------------------------------------------------

BAD = (  # (text in shop.yml, replacement): three strategies that cannot work
    (
        "- name: total_cents\n            fides_meta: {data_type: integer}",
        "- name: total_cents\n            fides_meta: {masking: {strategy: hash}}",
    ),
    (
        "masking: {strategy: string_rewrite, configuration: {value: erased}}",
        "masking: {strategy: null_rewrite}",
    ),
    (
        "length: 16, masking: {strategy: random_string_rewrite}",
        "length: 16, masking: {strategy: hash}",
    ),
)


def bad_manifest(backend: str, folder: Path) -> Manifest:
    path = manifest_copy(backend, folder)
    datasets = path.parent / "datasets" / "shop.yml"
    text = datasets.read_text()
    for old, new in BAD:
        assert old in text
        text = text.replace(old, new)
    datasets.write_text(text)
    return load_manifest(path, lint=False)


def test_impossible_strategies_fail_at_planning_with_nothing_changed(
    backend: str, shop_url: str, tmp_path: Path
) -> None:
    manifest = bad_manifest(backend, tmp_path)
    before = snapshot(shop_url)
    engine = Engine.open(manifest, env_for(shop_url), masking_key=MASKING_KEY)
    try:
        with pytest.raises(PlanError) as caught:
            engine.erase({"email": [ALICE]})
        problems = caught.value.problems
        assert len(problems) == 3, problems
        assert any(p.startswith("shop.orders.total_cents") and "writes text" in p for p in problems)
        assert any(p.startswith("shop.customers.full_name") and "NOT NULL" in p for p in problems)
        assert any(
            p.startswith("shop.customers.loyalty_code") and "holds 16" in p for p in problems
        )
        assert ALICE not in str(caught.value)
        assert engine.access({"email": [ALICE]}).collections  # access is still possible
    finally:
        engine.close()
    assert snapshot(shop_url) == before


def test_hmac_without_a_key_is_a_planning_error(shop_manifest: Manifest, shop_url: str) -> None:
    engine = Engine.open(shop_manifest, env_for(shop_url))
    try:
        with pytest.raises(PlanError, match="erasure cannot be planned") as caught:
            engine.start({"email": [ALICE]})
        assert any("needs a masking key" in p for p in caught.value.problems)
    finally:
        engine.close()


# --- steps, crashes and resumption -------------------------------------------------------------


class Crash(Exception):
    """A worker dying in the middle of a step."""


class SpyWriter:
    """Counts rows written; can die after its first write (a worker killed mid-step)."""

    def __init__(self, inner: Writer, spy: SpyConnector) -> None:
        self.inner = inner
        self.spy = spy

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete(self, table: TableName, key_columns: tuple[str, ...], keys: Sequence[Key]) -> int:
        n = self.inner.delete(table, key_columns, keys)
        self.spy.written += n
        return n

    def update(
        self,
        table: TableName,
        key_columns: tuple[str, ...],
        changes: Sequence[tuple[Key, Mapping[str, Any]]],
    ) -> int:
        if self.spy.crash_on_update:
            self.spy.crash_on_update = False
            raise Crash("killed")
        n = self.inner.update(table, key_columns, changes)
        self.spy.written += n
        return n


class SpyConnector(Connector):
    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.key = inner.key
        self.kind = inner.kind
        self.written = 0
        self.crash_on_update = False

    def introspect(self) -> Schema:
        return self.inner.introspect()

    def session(self) -> Any:
        return self.inner.session()

    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        with self.inner.transaction() as tx:
            yield SpyWriter(tx, self)  # type: ignore[misc]

    def read(self, spec: ReadSpec, match: Mapping[str, Any]) -> list[Any]:
        with self.session() as reader:
            result: list[Any] = Reader.read(reader, spec, match)  # pragma: no cover
            return result

    def close(self) -> None:
        self.inner.close()


def checkpoint(state: ErasureState) -> str:
    return json.dumps(state.to_json())


def restore(saved: str) -> ErasureState:
    return ErasureState.from_json(json.loads(saved))


def test_interrupted_erasure_resumes_from_saved_state_without_repeating(
    shop_manifest: Manifest, shop_url: str
) -> None:
    inner = open_connectors(shop_manifest, env_for(shop_url))
    spies = {k: SpyConnector(c) for k, c in inner.items()}
    engine = Engine(shop_manifest, spies, masking_key=MASKING_KEY)
    shop = spies["shop_db"]
    try:
        before = snapshot(shop_url)
        steps = {s.id: s for s in engine.erasure_plan().steps}
        order = list(steps)
        saved = checkpoint(engine.start({"email": [ALICE]}))
        for step_id in order[: order.index("erase:shop.order_contacts") + 1]:
            saved = checkpoint(engine.run_step(steps[step_id], restore(saved)))

        # A worker commits the orders step, then dies before saving its state.
        engine.run_step(steps["erase:shop.orders"], restore(saved))
        # The next worker repeats that step from the saved state: nothing left to do.
        written = shop.written
        state = engine.run_step(steps["erase:shop.orders"], restore(saved))
        assert shop.written == written
        saved = checkpoint(state)

        # A worker dies in the middle of the addresses step: its transaction is rolled back.
        shop.crash_on_update = True
        with pytest.raises(Crash):
            engine.run_step(steps["erase:shop.addresses"], restore(saved))
        assert 104 in snapshot(shop_url)["addresses"]

        state = restore(saved)
        for step_id in order[order.index("erase:shop.addresses") :]:
            state = engine.run_step(steps[step_id], restore(checkpoint(state)))
        report = engine.report(state)
    finally:
        engine.close()

    after = snapshot(shop_url)
    assert report.status == "completed"
    assert_only_alice_erased(before, after)
    assert column("customers", after["customers"][1], "email") == alice_hmac()  # hashed once
    orders = {f"{c.dataset}.{c.collection}": c for c in report.collections}["shop.orders"]
    assert (orders.rows_masked, orders.rows_shared, orders.fields_changed) == (1, 1, 3)


def test_a_step_already_done_is_not_run_again(engine: Engine, shop_url: str) -> None:
    steps = engine.erasure_plan().steps
    state = engine.start({"email": [ALICE]})
    for step in steps:
        state = engine.run_step(step, state)
    done = snapshot(shop_url)
    assert engine.run_step(steps[1], state) is state
    assert snapshot(shop_url) == done


def test_steps_of_a_changed_plan_are_refused(
    engine: Engine, shop_manifest: Manifest, shop_url: str
) -> None:
    state = engine.start({"email": [ALICE]})
    state.plan = "0" * 32
    with pytest.raises(PlanError, match="changed since"):
        engine.run_step(engine.erasure_plan().steps[0], state)


# --- verification -------------------------------------------------------------------------------

KEEP_EMAIL = {
    "postgres": (
        "CREATE FUNCTION keep_email() RETURNS trigger AS $$ BEGIN NEW.email := OLD.email; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER keep_email BEFORE UPDATE ON customers FOR EACH ROW "
        "EXECUTE FUNCTION keep_email()",
    ),
    "mariadb": (
        "CREATE TRIGGER keep_email BEFORE UPDATE ON customers FOR EACH ROW "
        "SET NEW.email = OLD.email",
    ),
    "sqlite": (
        "CREATE TRIGGER keep_email AFTER UPDATE OF email ON customers BEGIN "
        "UPDATE customers SET email = OLD.email WHERE id = NEW.id; END",
    ),
}


def test_verification_fails_when_a_trigger_keeps_the_data(
    engine: Engine, backend: str, shop_url: str
) -> None:
    execute(shop_url, *KEEP_EMAIL[backend])

    report = engine.erase({"email": [ALICE]})

    assert report.status == "failed"
    left = {f"{c.dataset}.{c.collection}": c for c in report.left}
    assert set(left) == {"shop.customers"}
    assert left["shop.customers"].left_fields == ("email",)
    assert left["shop.customers"].status == "failed"


def test_verification_finds_rows_added_after_the_erasure(engine: Engine, shop_url: str) -> None:
    state = engine.start({"email": [ALICE]})
    steps = engine.erasure_plan().steps
    for step in steps[:-1]:
        state = engine.run_step(step, state)
    execute(
        shop_url,
        "INSERT INTO tickets (id, requester_email, customer_id, subject, opened_at) "
        f"VALUES (99, '{ALICE}', NULL, 'Again', '2024-06-01 10:00:00')",
        "INSERT INTO sessions (id, customer_id, ip_address, user_agent) "
        "VALUES ('s-alice-9', 1, '192.0.2.9', NULL)",
    )

    report = engine.report(engine.run_step(steps[-1], state))

    assert report.status == "failed"
    left = {f"{c.dataset}.{c.collection}": c for c in report.left}
    assert set(left) == {"support.tickets", "shop.sessions"}
    assert left["support.tickets"].left_rows == 1
    assert set(left["support.tickets"].left_fields) == {"requester_email", "subject"}
    assert left["shop.sessions"].left_fields == ("(row)",)

    retry = engine.erase({"email": [ALICE], "customer_id": [1]})  # a new attempt clears them
    assert retry.status == "completed"
    assert 99 in snapshot(shop_url)["tickets"]
    assert "s-alice-9" not in snapshot(shop_url)["sessions"]
    assert ALICE_DELETED["sessions"] <= {"s-alice-1", "s-alice-2"}
