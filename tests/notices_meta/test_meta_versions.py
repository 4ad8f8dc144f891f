"""Publishing notice versions: history, snapshots, material changes and the notice period."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from metautil import NOW, Edit

from pledge.errors import ManifestError, OutputError, PledgeError
from pledge.manifest.load import load_manifest
from pledge.notices import versions
from pledge.notices.versions import (
    PublishRefused,
    history_path,
    load_history,
    publish,
    snapshot_manifest,
)

TODAY = NOW.date()
LONGER_RETENTION = ("keep: P13M", "keep: P25M")
NEW_WORDING = ('postal: "Storgata 1, 0155 Oslo, Norway"', 'postal: "Storgata 2, 0155 Oslo, Norway"')


def test_no_history_before_the_first_publication(manifest_path: Path) -> None:
    assert load_history(manifest_path) == []
    assert not history_path(manifest_path).exists()


def test_first_version_is_recorded_with_a_snapshot(manifest_path: Path) -> None:
    version = publish(manifest_path, now=NOW)

    assert (version.version, version.effective, version.published_at) == (1, TODAY, NOW)
    assert (version.material, version.forced, version.changes) == (False, False, ())
    assert version.digest == load_manifest(manifest_path).digest
    assert load_history(manifest_path) == [version]
    assert history_path(manifest_path).name == "pledge.history.json"
    snapshot = snapshot_manifest(manifest_path, 1)
    assert snapshot == manifest_path.parent / "pledge.history" / "v1" / "pledge.yaml"
    assert (snapshot.parent / "datasets" / "accounts.yml").is_file()
    assert load_manifest(snapshot, lint=False).digest == version.digest


def test_first_version_may_be_dated_back_to_when_the_notice_took_effect(
    manifest_path: Path,
) -> None:
    version = publish(manifest_path, effective=date(2019, 7, 1), now=NOW)
    assert version.effective == date(2019, 7, 1)


def test_non_material_change_takes_effect_today(manifest_path: Path, edit: Edit) -> None:
    publish(manifest_path, now=NOW)
    edit(*NEW_WORDING)

    version = publish(manifest_path, now=NOW + timedelta(days=1))

    assert (version.version, version.material, version.forced) == (2, False, False)
    assert version.effective == TODAY + timedelta(days=1)
    assert version.changes and not any(c["material"] for c in version.changes)
    assert any("postal" in c["path"] for c in version.changes)
    assert [v.version for v in load_history(manifest_path)] == [1, 2]


def test_early_material_change_is_refused_with_the_earliest_date(
    manifest_path: Path, edit: Edit
) -> None:
    publish(manifest_path, now=NOW)
    edit(*LONGER_RETENTION)
    before = history_path(manifest_path).read_bytes()

    with pytest.raises(PublishRefused) as refused:
        publish(manifest_path, now=NOW)

    message = str(refused.value)
    assert "Retention rule 'telemetry'" in message
    assert "earliest allowed date is 2025-03-31" in message  # 30 days after 2025-03-01
    assert "P-G16" in message
    assert history_path(manifest_path).read_bytes() == before
    assert not (manifest_path.parent / "pledge.history" / "v2").exists()


def test_material_change_with_enough_notice_is_published(manifest_path: Path, edit: Edit) -> None:
    publish(manifest_path, now=NOW)
    edit(*LONGER_RETENTION)

    version = publish(manifest_path, effective=date(2025, 3, 31), now=NOW)

    assert (version.material, version.forced) == (True, False)
    assert [c["kind"] for c in version.changes if c["material"]] == ["retention.longer"]


def test_forced_material_change_is_recorded_as_forced(manifest_path: Path, edit: Edit) -> None:
    publish(manifest_path, now=NOW)
    edit(*LONGER_RETENTION)

    version = publish(manifest_path, force=True, now=NOW)

    assert (version.material, version.forced, version.effective) == (True, True, TODAY)
    stored = json.loads(history_path(manifest_path).read_text(encoding="utf-8"))
    assert stored["versions"][1]["forced"] is True
    assert stored["versions"][1]["summary"]["material"] is True


def test_the_manifest_notice_period_sets_the_earliest_date(manifest_path: Path, edit: Edit) -> None:
    publish(manifest_path, now=NOW)
    edit(*LONGER_RETENTION)
    edit("signals: {", "notice_period: P2M\nsignals: {")

    with pytest.raises(PublishRefused, match="earliest allowed date is 2025-05-01"):
        publish(manifest_path, effective=date(2025, 4, 30), now=NOW)
    assert publish(manifest_path, effective=date(2025, 5, 1), now=NOW).material


def test_changes_are_measured_against_the_last_published_version(
    manifest_path: Path, edit: Edit
) -> None:
    publish(manifest_path, now=NOW)
    edit(*LONGER_RETENTION)
    edit("keep: P25M", "keep: P13M")  # changed and changed back: only the wording change stays
    edit(*NEW_WORDING)

    version = publish(manifest_path, now=NOW)

    assert not version.material
    assert all("retention" not in c["path"] for c in version.changes)


def test_unchanged_manifest_is_refused(manifest_path: Path) -> None:
    publish(manifest_path, now=NOW)
    with pytest.raises(PublishRefused, match=r"nothing to publish.*unchanged since version 1"):
        publish(manifest_path, now=NOW + timedelta(days=3))
    assert len(load_history(manifest_path)) == 1


def test_a_dataset_change_alone_is_a_new_version(manifest_path: Path) -> None:
    publish(manifest_path, now=NOW)
    dataset = manifest_path.parent / "datasets" / "accounts.yml"
    dataset.write_text(dataset.read_text(encoding="utf-8") + "    description: Users\n")

    version = publish(manifest_path, now=NOW)

    assert version.version == 2 and not version.material


def test_effective_date_before_the_previous_version_is_refused(
    manifest_path: Path, edit: Edit
) -> None:
    publish(manifest_path, effective=date(2025, 3, 10), now=NOW)
    edit(*NEW_WORDING)
    with pytest.raises(PublishRefused, match="before version 1's"):
        publish(manifest_path, effective=date(2025, 3, 9), now=NOW)


def test_manifest_with_errors_is_not_published(manifest_path: Path, edit: Edit) -> None:
    edit("legal_basis: contract", "legal_basis: because")
    with pytest.raises(ManifestError):
        publish(manifest_path, now=NOW)
    assert not history_path(manifest_path).exists()
    assert not (manifest_path.parent / "pledge.history").exists()


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"format": 1, "versions": [{"version": 1}]}',
        '{"format": 99, "versions": []}',
    ],
)
def test_corrupt_history_is_a_clear_error_and_is_left_alone(
    manifest_path: Path, content: str
) -> None:
    history_path(manifest_path).write_text(content, encoding="utf-8")

    with pytest.raises(PledgeError, match=r"pledge\.history\.json: the notice history is corrupt"):
        load_history(manifest_path)
    with pytest.raises(PledgeError, match="corrupt"):
        publish(manifest_path, now=NOW)
    assert history_path(manifest_path).read_text(encoding="utf-8") == content


def test_out_of_order_versions_are_corrupt(manifest_path: Path, edit: Edit) -> None:
    publish(manifest_path, now=NOW)
    edit(*NEW_WORDING)
    publish(manifest_path, now=NOW)
    data = json.loads(history_path(manifest_path).read_text(encoding="utf-8"))
    data["versions"].reverse()
    history_path(manifest_path).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PledgeError, match="version 2 where version 1 was expected"):
        load_history(manifest_path)


def test_missing_snapshot_needs_force(manifest_path: Path, edit: Edit) -> None:
    publish(manifest_path, now=NOW)
    shutil.rmtree(manifest_path.parent / "pledge.history" / "v1")
    edit(*NEW_WORDING)

    with pytest.raises(PledgeError, match="snapshot of version 1 cannot be loaded"):
        publish(manifest_path, now=NOW)
    version = publish(manifest_path, force=True, now=NOW)
    assert version.material and version.forced


def test_failed_history_write_keeps_the_old_history(
    manifest_path: Path, edit: Edit, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(manifest_path, now=NOW)
    before = history_path(manifest_path).read_bytes()
    edit(*NEW_WORDING)
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if str(dst).endswith(".history.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(versions.os, "replace", failing_replace)
    with pytest.raises(OutputError, match="No space left on device"):
        publish(manifest_path, now=NOW)

    assert history_path(manifest_path).read_bytes() == before
    leftovers = [p.name for p in manifest_path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    monkeypatch.undo()
    assert publish(manifest_path, now=NOW).version == 2  # the orphaned v2 snapshot is replaced


def test_datasets_above_the_manifest_folder_are_kept_in_the_snapshot(
    manifest_path: Path, edit: Edit
) -> None:
    shared = manifest_path.parent.parent / "shared"
    shared.mkdir()
    shutil.move(manifest_path.parent / "datasets" / "accounts.yml", shared / "accounts.yml")
    edit("datasets: [datasets/accounts.yml]", "datasets: [../shared/accounts.yml]")

    version = publish(manifest_path, now=NOW)

    snapshot = snapshot_manifest(manifest_path, 1)
    assert snapshot.parent.name == "_"
    assert (snapshot.parent.parent / "shared" / "accounts.yml").is_file()
    assert load_manifest(snapshot, lint=False).digest == version.digest
