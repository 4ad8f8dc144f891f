"""Access on the real databases: exactly the person's rows, by system and collection, and the
processor system reported, never read."""

from __future__ import annotations

import json

from dsr_shop import ALICE, ALICE_ACCESS, BOB, CAROL, MASKING_KEY, env_for, snapshot

from pledge.connectors import open_connectors
from pledge.manifest.model import Manifest
from pledge.requests.engine import Engine


def keys(result: object) -> dict[str, set[object]]:
    return {c.node: {row[0] for row in c.rows} for c in result.collections}  # type: ignore[attr-defined]


def test_access_returns_exactly_the_persons_rows(engine: Engine) -> None:
    result = engine.access({"email": [ALICE]})

    assert keys(result) == ALICE_ACCESS
    customers = result.collection("shop.customers")
    assert customers is not None
    assert customers.fields[:3] == ("id", "email", "full_name")
    assert customers.records()[0]["full_name"] == "Alice Example"
    assert {c.system for c in result.collections} == {"shop", "support"}


def test_access_never_reads_the_processor_system_and_says_whom_to_ask(engine: Engine) -> None:
    result = engine.access({"email": [ALICE]})

    assert not any(c.dataset == "partner" for c in result.collections)
    [forwarded] = result.forwarded
    assert forwarded.system == "partner_portal"
    assert forwarded.controller == "The partner whose portal it is"
    assert forwarded.contact_field == "partner.tenant_users.email"


def test_people_sharing_an_order_both_see_it_but_not_each_other(engine: Engine) -> None:
    bob = keys(engine.access({"email": [BOB]}))
    carol = keys(engine.access({"email": [CAROL]}))

    assert bob["shop.orders"] == {10, 12}
    assert bob["shop.order_contacts"] == {1001, 1003}
    assert bob["shop.customers"] == {2}
    assert carol["shop.orders"] == {13}
    assert "shop.payments" not in carol


def test_other_identities_and_unknown_people(engine: Engine) -> None:
    assert keys(engine.access({"customer_id": ["1"]}))["shop.customers"] == {1}
    assert keys(engine.access({"email": ["ALICE@example.com"]})) == ALICE_ACCESS
    assert engine.access({"email": ["nobody@example.com"]}).collections == ()
    assert engine.access({"customer_id": ["not a number"]}).collections == ()
    assert engine.access({"phone": ["+47 400 00 001"]}).collections == ()


def test_small_batches_give_the_same_rows(shop_manifest: Manifest, shop_url: str) -> None:
    connectors = open_connectors(shop_manifest, env_for(shop_url), batch_size=2)
    engine = Engine(shop_manifest, connectors, masking_key=MASKING_KEY, workers=1)
    try:
        assert keys(engine.access({"email": [ALICE]})) == ALICE_ACCESS
    finally:
        engine.close()


def test_access_changes_nothing_and_is_json(engine: Engine, shop_url: str) -> None:
    before = snapshot(shop_url)
    data = engine.access({"email": [ALICE]}).to_json()
    assert snapshot(shop_url) == before

    text = json.dumps(data)  # dates, datetimes as ISO text
    assert '"birth_date": "1990-07-14"' in text
    assert data["forwarded"][0]["system"] == "partner_portal"
