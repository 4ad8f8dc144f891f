"""The traversal plan: levels from the identities along references, shared and child edges,
erasure order, processors forwarded, unreachable collections reported, cached per manifest."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dsr_shop import FIXTURE

from pledge.manifest.graph import PlanError, build_graph, erase_order, plan_graph
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest

LUMEN = Path(__file__).parents[2] / "examples" / "lumen" / "pledge.yaml"

MANIFEST = """\
pledge: 1
organization: {{name: Test, contact: {{email: privacy@test.example}}}}
languages: [en]
systems:
  app:
    name: App
    connection: db
    datasets: [data.yml]
  hosted:
    name: Hosted
    role: processor
    controller: Our customer
    datasets: [hosted.yml]
connections:
  db: {{type: sqlite, url_env: APP_DB}}
"""


def manifest(tmp_path: Path, collections: str) -> Manifest:
    (tmp_path / "pledge.yaml").write_text(MANIFEST.format())
    data = "dataset:\n  - fides_key: app\n    collections:\n" + textwrap.indent(
        textwrap.dedent(collections), "      "
    )
    (tmp_path / "data.yml").write_text(data)
    (tmp_path / "hosted.yml").write_text(
        "dataset:\n  - fides_key: hosted\n    collections:\n"
        "      - name: members\n        fields:\n"
        "          - {name: email, fides_meta: {identity: email}}\n"
        "          - name: user_id\n"
        "            fides_meta: {references: [{dataset: app, field: users.id, direction: from}]}\n"
    )
    return load_manifest(tmp_path / "pledge.yaml", lint=False)


def test_lumen_plan_reaches_every_collection() -> None:
    graph = plan_graph(load_manifest(LUMEN))

    assert graph.unreachable == ()
    assert len(graph.nodes) == 26
    assert graph.levels[0] == ("accounts.users",)
    assert graph.nodes["billing.payments"].level == 3
    assert [f.system for f in graph.forwarded] == ["customer_content"]
    assert not any(key.startswith("customer_content.") for key in graph.nodes)
    assert graph.manual == ("recruitment",)
    assert set(graph.identities) == {"email", "user_id", "customer_id"}


def test_shop_plan_levels_and_erasure_order() -> None:
    graph = plan_graph(load_manifest(FIXTURE))

    assert graph.nodes["shop.orders"].level == 2
    assert graph.nodes["shop.order_items"].level == 3
    [into_orders] = graph.nodes["shop.orders"].inbound
    assert (into_orders.source, into_orders.pointer) == ("shop.order_contacts", "source")
    [into_newsletter] = graph.nodes["shop.newsletter"].inbound  # no direction: from customers
    assert into_newsletter.source == "shop.customers"
    order = erase_order(graph)
    for child, parent in [
        ("shop.order_items", "shop.orders"),
        ("shop.order_contacts", "shop.orders"),
        ("shop.order_contacts", "shop.customers"),
        ("support.ticket_messages", "support.tickets"),
        ("support.tickets", "shop.customers"),
    ]:
        assert order.index(child) < order.index(parent)
    assert not any(key.startswith("partner.") for key in graph.nodes)


def test_plan_is_built_once_per_manifest() -> None:
    loaded = load_manifest(FIXTURE)
    assert plan_graph(loaded) is plan_graph(load_manifest(FIXTURE))


def test_unreachable_and_skipped_collections_are_reported(tmp_path: Path) -> None:
    graph = build_graph(
        manifest(
            tmp_path,
            """\
            - name: users
              fields:
                - {name: id, fides_meta: {primary_key: true}}
                - name: email
                  data_categories: [user.contact.email]
                  fides_meta: {identity: email}
            - name: orphans
              fields:
                - {name: note, data_categories: [user.content.private]}
            - name: lookup
              fides_meta: {skip_processing: true}
              fields:
                - {name: code}
            """,
        )
    )
    assert set(graph.nodes) == {"app.users"}
    assert [(u.node, u.personal) for u in graph.unreachable] == [("app.orphans", True)]
    assert graph.skipped == ("app.lookup",)


def test_after_orders_levels_and_undirected_links_go_away_from_the_identity(
    tmp_path: Path,
) -> None:
    graph = build_graph(
        manifest(
            tmp_path,
            """\
            - name: audit
              fides_meta: {after: [app.profiles]}
              fields:
                - {name: email, fides_meta: {identity: email}}
            - name: users
              fields:
                - {name: id}
                - {name: email, fides_meta: {identity: email}}
            - name: profiles
              fields:
                - name: user_id
                  fides_meta: {references: [{dataset: app, field: users.id}]}
            """,
        )
    )
    assert graph.levels == (("app.users",), ("app.profiles",), ("app.audit",))
    [edge] = graph.nodes["app.profiles"].inbound
    assert (edge.source, edge.source_field, edge.target_field) == ("app.users", "id", "user_id")


def test_a_cycle_of_directed_references_is_a_plan_error(tmp_path: Path) -> None:
    m = manifest(
        tmp_path,
        """\
        - name: a
          fields:
            - {name: email, fides_meta: {identity: email}}
            - name: b_id
              fides_meta: {references: [{dataset: app, field: b.id, direction: from}]}
            - {name: id}
        - name: b
          fields:
            - {name: id}
            - name: a_id
              fides_meta: {references: [{dataset: app, field: a.id, direction: from}]}
        """,
    )
    with pytest.raises(PlanError, match="cycle") as caught:
        build_graph(m)
    assert "app.a" in str(caught.value)
