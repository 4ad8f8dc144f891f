"""Datasets agree with the manifest and can be walked by requests: findings point into them."""

from __future__ import annotations

import pytest
from lintutil import Small, assert_at

from pledge.manifest.graph import PlanError, build_graph
from pledge.manifest.load import load_manifest

ACCOUNTS = "datasets/accounts.yml"
NAME_FIELD = "          - name: name\n"
BIRTHDAY = (
    "          - name: birthday\n"
    "            data_categories: [user.demographic.date_of_birth]\n"
    "            fides_meta: {pledge_type: date}\n"
)


def test_field_with_a_category_no_collect_declares_is_undeclared(small: Small) -> None:
    small.edit(NAME_FIELD, BIRTHDAY + NAME_FIELD, ACCOUNTS)
    finding = small.one("undeclared-category")
    assert_at(finding, small.loc("user.demographic.date_of_birth", ACCOUNTS))
    assert "field 'accounts.users.birthday'" in finding.message
    assert "'accounts'" in finding.message
    assert small.rules() == {"undeclared-category"}


def test_non_personal_data_need_not_be_in_the_notice(small: Small) -> None:
    small.edit(
        "          - name: event\n            data_categories: [user.unique_id]",
        "          - name: event\n            data_categories: [system.operations]",
        ACCOUNTS,
    )
    assert small.check().findings == []


def test_declared_category_that_no_field_holds_is_unused(small: Small) -> None:
    small.edit("user.contact.address]", "user.contact.address, user.financial.credit_card]")
    finding = small.one("unused-category")
    assert_at(finding, small.loc("user.financial.credit_card"), "warning")
    assert small.rules() == {"unused-category"}


@pytest.mark.parametrize(
    ("old", "new", "needle", "hint"),
    [
        pytest.param(
            "field: users.id,",
            "field: users.idd,",
            "users.idd",
            "did you mean 'users.id'?",
            id="field",
        ),
        pytest.param(
            "field: users.id,",
            "field: user.id,",
            "user.id",
            "did you mean 'users'?",
            id="collection",
        ),
        pytest.param(
            "{dataset: accounts,",
            "{dataset: acounts,",
            "acounts",
            "did you mean 'accounts'?",
            id="dataset",
        ),
        pytest.param(
            "erase_after: [accounts.orders]",
            "erase_after: [accounts.order]",
            "accounts.order]",
            "did you mean 'orders'?",
            id="erase-after",
        ),
    ],
)
def test_dataset_reference_to_nothing(
    small: Small, old: str, new: str, needle: str, hint: str
) -> None:
    small.edit(old, new, ACCOUNTS)
    finding = small.one("dataset-reference")
    assert_at(finding, small.loc(needle, ACCOUNTS))
    assert finding.hint == hint


def test_duplicate_dataset_key_in_another_file(small: Small) -> None:
    small.edit("fides_key: hosted", "fides_key: accounts", "datasets/hosted.yml")
    finding = small.one("dataset-reference")
    assert_at(finding, small.loc("accounts", "datasets/hosted.yml"))
    assert "defined twice" in finding.message and ACCOUNTS in finding.message


def test_controller_contact_field_must_exist(small: Small) -> None:
    small.edit("contact_field: accounts.users.email", "contact_field: accounts.users.mail")
    finding = small.one("dataset-reference")
    assert_at(finding, small.loc("accounts.users.mail"))
    assert finding.hint == "did you mean 'users.email'?"


def test_erase_order_in_a_cycle(small: Small) -> None:
    small.edit(
        "      - name: orders\n        fields:",
        "      - name: orders\n        fides_meta:\n          erase_after: [accounts.users]\n"
        "        fields:",
        ACCOUNTS,
    )
    finding = small.one("dataset-cycle")
    assert_at(finding, small.loc("accounts.users", ACCOUNTS, within="name: orders"))
    assert "accounts.orders → accounts.users → accounts.orders" in finding.message
    assert small.rules() == {"dataset-cycle"}


def test_directed_references_in_a_cycle(small: Small) -> None:
    small.edit(
        NAME_FIELD,
        "          - name: last_order\n"
        "            data_categories: [user.unique_id]\n"
        "            fides_meta:\n"
        "              data_type: integer\n"
        "              references: [{dataset: accounts, field: orders.id, direction: from}]\n"
        + NAME_FIELD,
        ACCOUNTS,
    )
    finding = small.one("dataset-cycle")
    assert_at(finding, small.loc("from}", ACCOUNTS, within="name: user_id"))
    assert finding.message.startswith("directed references form a cycle")


def test_collection_no_identity_reaches_is_unreachable(small: Small) -> None:
    small.edit(
        "              references:\n"
        "                - {dataset: accounts, field: users.id, direction: from}\n",
        "",
        ACCOUNTS,
    )
    finding = small.one("unreachable-collection")
    assert_at(finding, small.loc("name: orders", ACCOUNTS))
    assert "'accounts.orders'" in finding.message
    assert small.rules() == {"unreachable-collection"}


def test_collection_without_personal_data_need_not_be_reachable(small: Small) -> None:
    small.edit(
        "      - name: audit_log\n",
        "      - name: countries\n        fields:\n          - name: code\n"
        "            data_categories: [system.operations]\n      - name: audit_log\n",
        ACCOUNTS,
    )
    assert small.check().findings == []


@pytest.mark.parametrize(
    ("old", "new", "needle", "within"),
    [
        pytest.param(
            "              data_type: string\n              masking: {strategy: hmac}",
            "              data_type: string\n              length: 40\n"
            "              masking: {strategy: hmac}",
            "hmac",
            "",
            id="hash-longer-than-column",
        ),
        pytest.param(
            "pledge_type: datetime",
            "data_type: string",
            "generalize_date",
            "",
            id="date-on-text",
        ),
        pytest.param(
            "masking: {strategy: hmac}",
            "masking: {strategy: delete}",
            "delete",
            "",
            id="delete-on-a-field",
        ),
        pytest.param(
            "{primary_key: true, data_type: integer}\n          - name: user_id",
            "{primary_key: true, data_type: integer, masking: {strategy: null_rewrite}}\n"
            "          - name: user_id",
            "null_rewrite",
            "",
            id="primary-key-rewritten",
        ),
        pytest.param(
            "              data_type: integer\n              references:",
            "              data_type: integer\n              masking: {strategy: hash}\n"
            "              references:",
            "hash",
            "",
            id="hash-on-integer",
        ),
        pytest.param(
            "      - name: orders\n        fields:",
            "      - name: orders\n        fides_meta:\n"
            "          masking_strategy_override: {strategy: string_rewrite}\n        fields:",
            "integer",
            "name: user_id",
            id="collection-override-on-integer",
        ),
    ],
)
def test_masking_that_does_not_fit_the_field(
    small: Small, old: str, new: str, needle: str, within: str
) -> None:
    small.edit(old, new, ACCOUNTS)
    finding = small.one("masking-type")
    assert_at(finding, small.loc(needle, ACCOUNTS, within=within))
    assert small.rules() == {"masking-type"}


def test_system_masking_by_category_is_checked_against_each_field(small: Small) -> None:
    small.edit("      user.name: string_rewrite\n", "      user.unique_id: hash\n")
    finding = small.one("masking-type")
    assert_at(finding, small.loc("integer", ACCOUNTS, within="name: user_id"))
    assert "system 'accounts'" in finding.message


def test_unknown_masking_strategy_in_a_system(small: Small) -> None:
    small.edit("user.contact.phone_number: null_rewrite", "user.contact.phone_number: null_rewite")
    finding = small.one("masking-type")
    assert_at(finding, small.loc("null_rewite"))
    assert finding.hint == "did you mean 'null_rewrite'?"


def test_dataset_ordered_after_an_unknown_dataset(small: Small) -> None:
    small.edit(
        "    name: Accounts database\n",
        "    name: Accounts database\n    fides_meta: {after: [acounts_v1]}\n",
        ACCOUNTS,
    )
    finding = small.one("dataset-reference")
    assert_at(finding, small.loc("acounts_v1", ACCOUNTS))


def test_datasets_ordered_after_each_other(small: Small) -> None:
    small.edit(
        "    name: Accounts database\n",
        "    name: Accounts database\n    fides_meta: {after: [hosted]}\n",
        ACCOUNTS,
    )
    small.edit(
        "    name: Hosted customer content\n",
        "    name: Hosted customer content\n    fides_meta: {after: [accounts]}\n",
        "datasets/hosted.yml",
    )
    finding = small.one("dataset-cycle")
    assert finding.message.startswith("datasets ordered by `after` form a cycle")
    assert_at(finding, small.loc("accounts]", "datasets/hosted.yml"))


def test_processor_collections_are_exempt_because_requests_never_touch_them(
    small: Small,
) -> None:
    small.edit(
        "    role: processor\n    controller:\n      name: {en: Our customer, nb: Kunden vår}\n"
        "      contact_field: accounts.users.email\n",
        "    retention: account\n",
    )
    finding = small.one("unreachable-collection")
    assert_at(finding, small.loc("name: documents", "datasets/hosted.yml"))


# --- lint and the request planner ask the same graph and masking table ------------------------
# Each manifest below passed `pledge check` before lint asked the dataset graph, and then the
# request could not be planned (or silently missed a collection).


def test_after_against_the_references_is_a_cycle_lint_and_planner_both_refuse(
    small: Small,
) -> None:
    small.edit(
        "          erase_after: [accounts.orders]\n",
        "          erase_after: [accounts.orders]\n          after: [accounts.orders]\n",
        ACCOUNTS,
    )
    finding = small.one("dataset-cycle")
    assert finding.message.startswith("`after` and the dataset references form a cycle")
    assert "accounts.orders → accounts.users → accounts.orders" in finding.message
    assert_at(finding, small.loc("from}", ACCOUNTS, within="name: user_id"))
    with pytest.raises(PlanError, match="cycle"):
        build_graph(load_manifest(small.path, lint=False))


def test_a_collection_reached_only_through_a_skipped_one_is_unreachable(small: Small) -> None:
    small.edit(
        "          - name: event\n            data_categories: [user.unique_id]\n",
        "          - name: event\n            data_categories: [user.unique_id]\n"
        "            fides_meta:\n"
        "              references: [{dataset: accounts, field: users.id}]\n"
        "      - name: notes\n        fields:\n"
        "          - name: about\n            data_categories: [user.unique_id]\n"
        "            fides_meta:\n"
        "              references: [{dataset: accounts, field: audit_log.event}]\n",
        ACCOUNTS,
    )
    finding = small.one("unreachable-collection")
    assert_at(finding, small.loc("name: notes", ACCOUNTS))
    graph = build_graph(load_manifest(small.path, lint=False))
    assert [u.node for u in graph.unreachable] == ["accounts.notes"]


@pytest.mark.parametrize(
    ("old", "new", "file", "needle", "fragment"),
    [
        pytest.param(
            "masking: {strategy: hmac}",
            "masking: {strategy: aes_encrypt}",
            ACCOUNTS,
            "aes_encrypt",
            "not supported",
            id="aes-encrypt",
        ),
        pytest.param(
            "user.name: string_rewrite",
            "user.name: delete",
            "pledge.yaml",
            "name: name",
            "whole rows",
            id="system-masks-a-category-with-delete",
        ),
        pytest.param(
            "fides_meta: {data_type: string, length: 32}",
            "fides_meta:\n              data_type: string\n              length: 32\n"
            "              masking:\n                strategy: string_rewrite\n"
            "                configuration: {value: " + "x" * 40 + "}",
            ACCOUNTS,
            "string_rewrite",
            "writes 40 characters but the field holds 32",
            id="rewrite-longer-than-the-field",
        ),
        pytest.param(
            "fides_meta: {data_type: string, length: 32}",
            "fides_meta:\n              data_type: string\n"
            "              masking: {strategy: string_rewrite, configuration: {value: 5}}",
            ACCOUNTS,
            "{value: 5}",
            "needs `configuration",
            id="rewrite-without-text",
        ),
    ],
)
def test_masking_the_engine_refuses_is_refused_by_lint(
    small: Small, old: str, new: str, file: str, needle: str, fragment: str
) -> None:
    small.edit(old, new, file)
    finding = small.one("masking-type")
    assert fragment in finding.message
    assert_at(finding, small.loc(needle, ACCOUNTS, within="name: users"))
    assert small.rules() == {"masking-type"}
