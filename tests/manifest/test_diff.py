"""`diff` tells material changes (people must be told first) from wording and reductions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pledge.cli import build
from pledge.manifest.diff import Change, diff, summary
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest

BASE: dict[str, Any] = {
    "pledge": 1,
    "organization": {"name": "Acme", "contact": {"email": "privacy@acme.example"}},
    "languages": ["en", "nb"],
    "jurisdictions": ["eu", "global"],
    "purposes": {
        "essential.service": {"legal_basis": "contract"},
        "analytics.reporting": {
            "legal_basis": "legitimate_interests",
            "legitimate_interest": "Understand how the service is used.",
        },
    },
    "recipients": {
        "cloud_host": {"name": "Example Cloud", "kind": "processor", "countries": ["IE"]},
        "mailer": {"name": "Example Mail", "kind": "processor", "countries": ["IE"]},
    },
    "systems": {
        "accounts": {
            "name": {"en": "Customer accounts", "nb": "Kundekontoer"},
            "subjects": ["customer"],
            "collects": [
                {
                    "categories": ["user.contact.email", "user.name"],
                    "purposes": ["essential.service"],
                }
            ],
            "recipients": ["cloud_host"],
            "locations": ["IE"],
            "retention": "account",
        },
        "telemetry": {
            "name": "Usage telemetry",
            "collects": [
                {"categories": ["user.device"], "purposes": ["analytics.reporting"]},
            ],
            "retention": "telemetry",
        },
    },
    "retention": {
        "account": {"keep": "P3Y", "after": "account_closed"},
        "telemetry": {"keep": "P13M", "after": "collected"},
    },
    "rights": {"access": {}, "erasure": {}},
    "trackers": [{"name": "session", "category": "strictly_necessary", "duration": "session"}],
}

Mutation = Callable[[dict[str, Any]], None]


def _write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _manifest(folder: Path, name: str, data: dict[str, Any]) -> Manifest:
    return load_manifest(_write(folder, name, data), lint=False)


def _changes(tmp_path: Path, mutate: Mutation) -> list[Change]:
    new = copy.deepcopy(BASE)
    mutate(new)
    return diff(_manifest(tmp_path, "old.yaml", BASE), _manifest(tmp_path, "new.yaml", new))


def _system(data: dict[str, Any], key: str = "accounts") -> dict[str, Any]:
    system: dict[str, Any] = data["systems"][key]
    return system


def _one(changes: list[Change], kind: str) -> Change:
    found = [c for c in changes if c.kind == kind]
    assert len(found) == 1, changes
    return found[0]


# --- each mutation, its kind and whether it is material ----------------------------------------

MATERIAL: dict[str, tuple[Mutation, str]] = {
    "new purpose": (
        lambda d: d["purposes"].update({"marketing.email": {"legal_basis": "consent"}}),
        "purpose.added",
    ),
    "new category in a system": (
        lambda d: _system(d)["collects"][0]["categories"].append("user.contact.phone_number"),
        "category.added",
    ),
    "broader category than before": (
        lambda d: _system(d)["collects"][0]["categories"].append("user.contact"),
        "category.added",
    ),
    "category collected by one more system": (
        lambda d: _system(d, "telemetry")["collects"][0]["categories"].append("user.name"),
        "category.added",
    ),
    "data used for another declared purpose": (
        lambda d: _system(d)["collects"][0]["purposes"].append("analytics.reporting"),
        "use.added",
    ),
    "new group of people": (
        lambda d: _system(d)["subjects"].append("employee"),
        "subject.added",
    ),
    "new recipient": (
        lambda d: d["recipients"].update({"ads": {"name": "Ads Inc", "kind": "controller"}}),
        "recipient.added",
    ),
    "system shares with another recipient": (
        lambda d: _system(d)["recipients"].append("mailer"),
        "sharing.added",
    ),
    "recipient in a new country": (
        lambda d: d["recipients"]["cloud_host"]["countries"].append("US"),
        "transfer.added",
    ),
    "system in a new country": (
        lambda d: _system(d)["locations"].append("US"),
        "transfer.added",
    ),
    "analytics tracker": (
        lambda d: d["trackers"].append({"name": "_ga", "category": "analytics"}),
        "tracker.added",
    ),
    "tracker no longer strictly necessary": (
        lambda d: d["trackers"][0].update(category="functional"),
        "tracker.changed",
    ),
    "tracker lives longer": (
        lambda d: d["trackers"][0].update(duration="P1Y"),
        "tracker.longer",
    ),
    "legal basis": (
        lambda d: d["purposes"]["essential.service"].update(legal_basis="consent"),
        "legal_basis.changed",
    ),
    "system role": (
        lambda d: _system(d).update(role="processor", controller="Our customer"),
        "role.changed",
    ),
    "longer retention": (
        lambda d: d["retention"]["account"].update(keep="P5Y"),
        "retention.longer",
    ),
    "same keep, later trigger": (
        lambda d: d["retention"]["telemetry"].update(after="last_activity"),
        "retention.longer",
    ),
    "shorter keep but later trigger": (
        lambda d: d["retention"]["telemetry"].update(keep="P6M", after="account_closed"),
        "retention.changed",
    ),
    "system points at a longer rule": (
        lambda d: _system(d, "telemetry").update(retention="account"),
        "retention.longer",
    ),
    "system without a retention rule": (
        lambda d: _system(d).pop("retention"),
        "retention.longer",
    ),
    "right removed": (
        lambda d: d["rights"].pop("erasure"),
        "right.removed",
    ),
    "right narrowed to fewer jurisdictions": (
        lambda d: d["rights"]["erasure"].update(jurisdictions=["eu"]),
        "right.removed",
    ),
    "data now sold": (
        lambda d: d["recipients"]["mailer"].update(sale=True),
        "sale.added",
    ),
    "processor becomes a controller": (
        lambda d: d["recipients"]["mailer"].update(kind="controller"),
        "recipient.changed",
    ),
    "deleted becomes anonymised": (
        lambda d: d["retention"]["account"].update(then="anonymize"),
        "retention.changed",
    ),
}

NOT_MATERIAL: dict[str, tuple[Mutation, str]] = {
    "wording of a plain text": (
        lambda d: _system(d, "telemetry").update(name="Product telemetry"),
        "text.changed",
    ),
    "wording in one language": (
        lambda d: _system(d)["name"].update(nb="Kundekontoar"),
        "text.changed",
    ),
    "legitimate interest reworded": (
        lambda d: d["purposes"]["analytics.reporting"].update(legitimate_interest="Improve it."),
        "text.changed",
    ),
    "contact e-mail": (
        lambda d: d["organization"]["contact"].update(email="dpo@acme.example"),
        "contact.changed",
    ),
    "a DPO appears": (
        lambda d: d["organization"].update(dpo={"email": "dpo@acme.example"}),
        "contact.changed",
    ),
    "shorter retention": (
        lambda d: d["retention"]["account"].update(keep="P1Y"),
        "retention.shorter",
    ),
    "earlier trigger": (
        lambda d: d["retention"]["account"].update(after="collected"),
        "retention.shorter",
    ),
    "category no longer collected": (
        lambda d: _system(d)["collects"][0]["categories"].remove("user.name"),
        "category.removed",
    ),
    "narrower category than before": (
        lambda d: _system(d)["collects"][0]["categories"].append("user.contact.email.work"),
        "category.added",
    ),
    "purpose no longer used": (
        lambda d: d["purposes"].pop("analytics.reporting") and d["systems"].pop("telemetry"),
        "purpose.removed",
    ),
    "recipient removed": (
        lambda d: d["recipients"].pop("mailer"),
        "recipient.removed",
    ),
    "system stops sharing": (
        lambda d: _system(d)["recipients"].clear(),
        "sharing.removed",
    ),
    "strictly necessary tracker": (
        lambda d: d["trackers"].append({"name": "csrf", "category": "strictly_necessary"}),
        "tracker.added",
    ),
    "tracker removed": (lambda d: d["trackers"].clear(), "tracker.removed"),
    "right added": (
        lambda d: d["rights"].update(rectification={}),
        "right.added",
    ),
    "right widened": (
        lambda d: d["rights"]["access"].update(jurisdictions=["eu", "global", "us-ca"]),
        "right.added",
    ),
    "data no longer sold": (
        lambda d: d["recipients"]["mailer"].update(sale=False),
        "",  # sale defaults to false: no change at all
    ),
    "verification setting": (
        lambda d: d["rights"]["access"].update(verification="email_and_account"),
        "setting.changed",
    ),
    "a new notice": (
        lambda d: d.update(notices={"main": {"title": "Privacy notice"}}),
        "notice.added",
    ),
}


@pytest.mark.parametrize("case", list(MATERIAL), ids=list(MATERIAL))
def test_material_change_is_classified_material(tmp_path: Path, case: str) -> None:
    mutate, kind = MATERIAL[case]
    found = [c for c in _changes(tmp_path, mutate) if c.kind == kind]
    assert found and all(c.material and c.reason and c.summary for c in found), found


@pytest.mark.parametrize("case", list(NOT_MATERIAL), ids=list(NOT_MATERIAL))
def test_other_change_is_not_material(tmp_path: Path, case: str) -> None:
    mutate, kind = NOT_MATERIAL[case]
    changes = _changes(tmp_path, mutate)
    assert not any(c.material for c in changes), changes
    if kind:
        assert all(c.reason for c in changes) and any(c.kind == kind for c in changes), changes
    else:
        assert changes == []


def test_same_manifest_and_equal_durations_are_no_change(tmp_path: Path) -> None:
    assert _changes(tmp_path, lambda d: None) == []
    assert _changes(tmp_path, lambda d: d["retention"]["account"].update(keep="P36M")) == []


def test_reordering_lists_is_no_change(tmp_path: Path) -> None:
    def reorder(d: dict[str, Any]) -> None:
        d["trackers"].insert(0, {"name": "_ga", "category": "analytics"})
        _system(d)["collects"][0]["categories"].reverse()

    base = copy.deepcopy(BASE)
    base["trackers"].append({"name": "_ga", "category": "analytics"})
    new = copy.deepcopy(BASE)
    reorder(new)
    old_m = _manifest(tmp_path, "old.yaml", base)
    assert diff(old_m, _manifest(tmp_path, "new.yaml", new)) == []


def test_new_non_personal_category_is_not_material(tmp_path: Path) -> None:
    def add(d: dict[str, Any]) -> None:
        d["categories"] = {"system.usage": {"name": "Feature usage", "personal": False}}
        _system(d, "telemetry")["collects"][0]["categories"].append("system.usage")

    change = _one(_changes(tmp_path, add), "category.added")
    assert not change.material and "not personal" in change.reason


def test_longer_backups_are_material_and_shorter_are_not(tmp_path: Path) -> None:
    base = {**copy.deepcopy(BASE), "backups": {"max_age": "P35D", "erasure": "crypto_shred"}}
    longer = copy.deepcopy(base)
    longer["backups"]["max_age"] = "P90D"
    old = _manifest(tmp_path, "old.yaml", base)
    grown = diff(old, _manifest(tmp_path, "new.yaml", longer))
    assert [(c.kind, c.path, c.material) for c in grown] == [
        ("retention.longer", "backups.max_age", True)
    ]
    shrunk = diff(_manifest(tmp_path, "new.yaml", longer), old)
    assert [(c.kind, c.material) for c in shrunk] == [("retention.shorter", False)]


def test_change_records_plain_values_and_a_path(tmp_path: Path) -> None:
    change = _one(
        _changes(tmp_path, lambda d: d["retention"]["account"].update(keep="P5Y")),
        "retention.longer",
    )
    assert change.path == "retention.account"
    assert change.before == {"keep": "P3Y", "after": "account_closed"}
    assert change.after == {"keep": "P5Y", "after": "account_closed"}
    assert "P3Y" in change.summary and "P5Y" in change.summary
    json.dumps([c.as_dict() for c in _changes(tmp_path, _many)])  # JSON-able throughout


def _many(d: dict[str, Any]) -> None:
    d["purposes"]["marketing.email"] = {"legal_basis": "consent", "name": {"en": "E", "nb": "E"}}
    d["recipients"].pop("mailer")
    _system(d)["name"] = "Accounts"
    d["retention"]["account"]["keep"] = "P1Y"
    d["trackers"].append({"name": "_ga", "category": "analytics", "duration": "P2Y"})


def test_order_is_material_first_then_by_path_and_deterministic(tmp_path: Path) -> None:
    first = _changes(tmp_path, _many)
    assert first == _changes(tmp_path, _many)
    flags = [c.material for c in first]
    assert flags == sorted(flags, reverse=True)
    material = [c.path for c in first if c.material]
    assert material == sorted(material)


def test_summary_counts_kinds_and_lists_reasons(tmp_path: Path) -> None:
    result = summary(_changes(tmp_path, _many))
    assert result["material"] is True
    assert result["counts"]["purpose.added"] == 1
    assert result["counts"]["recipient.removed"] == 1
    assert result["material_changes"] == len(result["reasons"]) > 0
    assert any("marketing.email" in r for r in result["reasons"])
    assert summary([]) == {
        "material": False,
        "changes": 0,
        "material_changes": 0,
        "counts": {},
        "reasons": [],
    }


# --- the command --------------------------------------------------------------------------------


def _files(tmp_path: Path, mutate: Mutation) -> tuple[str, str]:
    new = copy.deepcopy(BASE)
    mutate(new)
    return str(_write(tmp_path, "old.yaml", BASE)), str(_write(tmp_path, "new.yaml", new))


def _run(*args: str) -> Any:
    return CliRunner().invoke(build(), ["diff", *args])


def _add_purpose(d: dict[str, Any]) -> None:
    d["purposes"]["marketing.email"] = {"legal_basis": "consent"}
    _system(d, "telemetry")["name"] = "Product telemetry"


def test_cli_text_lists_changes_in_columns_and_a_summary(tmp_path: Path) -> None:
    result = _run(*_files(tmp_path, _add_purpose))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("MATERIAL  purpose.added ")
    assert "purposes.marketing.email" in lines[0] and "New purpose 'marketing.email'" in lines[0]
    assert lines[1].startswith("minor     text.changed ")
    assert lines[0].index("purposes.") == lines[1].index("systems.")  # tidy columns
    assert lines[-1] == "2 changes, 1 material (material: a notice update is needed)"


def test_cli_json_has_material_flag_and_changes(tmp_path: Path) -> None:
    result = _run(*_files(tmp_path, _add_purpose), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["material"] is True
    assert [c["kind"] for c in data["changes"]] == ["purpose.added", "text.changed"]
    assert data["changes"][0]["after"] == "marketing.email"


def test_cli_fail_on_material_exits_3_only_for_material_changes(tmp_path: Path) -> None:
    assert _run(*_files(tmp_path, _add_purpose), "--fail-on-material").exit_code == 3
    minor = _files(tmp_path, lambda d: _system(d, "telemetry").update(name="Telemetry"))
    assert _run(*minor, "--fail-on-material").exit_code == 0
    same = _run(*_files(tmp_path, lambda d: None), "--fail-on-material")
    assert same.exit_code == 0 and same.stdout.strip() == "no changes"


def test_cli_unreadable_exits_2_and_invalid_exits_1(tmp_path: Path) -> None:
    old, new = _files(tmp_path, lambda d: None)
    missing = _run(old, str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("pledge: 1\norganization: [unclosed\n", encoding="utf-8")
    assert _run(str(broken), new).exit_code == 2
    invalid = _write(tmp_path, "invalid.yaml", {**BASE, "purposez": {}})
    result = _run(old, str(invalid))
    assert result.exit_code == 1
    assert "unknown-key" in result.stderr and result.stdout == ""


def test_emptied_list_and_one_language_wording_read_well(tmp_path: Path) -> None:
    removed = _changes(tmp_path, lambda d: d["trackers"].clear())
    assert [(c.kind, c.path) for c in removed] == [("tracker.removed", "trackers.session")]
    reworded = _changes(tmp_path, lambda d: _system(d)["name"].update(nb="Kundekontoar"))
    assert [c.summary for c in reworded] == [
        "Wording of systems.accounts.name: [nb] Kundekontoer → Kundekontoar"
    ]
