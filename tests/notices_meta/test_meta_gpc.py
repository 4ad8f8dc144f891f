"""`/.well-known/gpc.json`: the Global Privacy Control claim follows the manifest (P-S17)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from metautil import NOW, Edit

from pledge.manifest.load import load_manifest
from pledge.notices.gpc import gpc_resource
from pledge.notices.versions import load_history, publish

TODAY = NOW.date()


def test_without_history_last_update_is_the_newest_notice_date(manifest_path: Path) -> None:
    manifest = load_manifest(manifest_path)
    assert gpc_resource(manifest, [], TODAY) == {"gpc": True, "lastUpdate": "2024-05-15"}


def test_last_update_is_the_latest_published_version_in_effect(
    manifest_path: Path, edit: Edit
) -> None:
    publish(manifest_path, effective=date(2025, 2, 1), now=NOW)
    edit("keep: P13M", "keep: P25M")
    publish(manifest_path, effective=date(2025, 4, 1), now=NOW)  # announced, not yet in effect
    manifest, history = load_manifest(manifest_path), load_history(manifest_path)

    assert gpc_resource(manifest, history, TODAY)["lastUpdate"] == "2025-02-01"
    assert gpc_resource(manifest, history, date(2025, 4, 1))["lastUpdate"] == "2025-04-01"


def test_gpc_false_when_the_signal_is_not_honoured(manifest_path: Path, edit: Edit) -> None:
    edit("global_privacy_control: honour", "global_privacy_control: not_applicable")
    assert gpc_resource(load_manifest(manifest_path), [], TODAY)["gpc"] is False


def test_no_last_update_before_any_notice_takes_effect(manifest_path: Path) -> None:
    manifest = load_manifest(manifest_path)
    assert gpc_resource(manifest, [], date(2024, 1, 1)) == {"gpc": True}
