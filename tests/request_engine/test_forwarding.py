"""Forwarding (P-S14): the controller's contact is read from the processor's store along the
dataset's references, which the dataset graph gives (`manifest.graph.links`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pledge.manifest.load import load_manifest
from pledge.requests.forwarding import contacts

MANIFEST = """\
pledge: 1
organization: {name: Test, contact: {email: privacy@test.example}}
languages: [en]
systems:
  hosted:
    name: Hosted
    role: processor
    controller: {name: Our customer, contact_field: hosted.tenants.privacy_contact}
    connection: db
    datasets: [hosted.yml]
connections:
  db: {type: sqlite, url_env: HOSTED_DB}
"""

DATASET = """\
dataset:
  - fides_key: hosted
    collections:
      - name: members
        fields:
          - {name: email, fides_meta: {identity: email}}
          - name: workspace_id
            fides_meta: {references: [{dataset: hosted, field: workspaces.id}]}
      - name: workspaces
        fields:
          - {name: id}
          - name: tenant_id
            fides_meta: {references: [{dataset: hosted, field: tenants.id, direction: to}]}
      - name: tenants
        fields:
          - {name: id}
          - {name: privacy_contact}
"""


def test_contact_is_found_two_references_away(tmp_path: Path) -> None:
    (tmp_path / "pledge.yaml").write_text(MANIFEST)
    (tmp_path / "hosted.yml").write_text(DATASET)
    db = tmp_path / "hosted.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE members (email TEXT, workspace_id INTEGER);"
            "CREATE TABLE workspaces (id INTEGER PRIMARY KEY, tenant_id INTEGER);"
            "CREATE TABLE tenants (id INTEGER PRIMARY KEY, privacy_contact TEXT);"
            "INSERT INTO members VALUES ('ada@example.com', 1), ('bob@example.com', 2);"
            "INSERT INTO workspaces VALUES (1, 10), (2, 20);"
            "INSERT INTO tenants VALUES (10, 'dpo@acme.example'), (20, 'dpo@other.example');"
        )
    environ = {"HOSTED_DB": f"sqlite:///{db}"}  # the installation's, never the process's
    manifest = load_manifest(tmp_path / "pledge.yaml", lint=False)

    ada = contacts(manifest, "hosted", {"email": ["ada@example.com"]}, environ)
    assert ada == ["dpo@acme.example"]
    assert contacts(manifest, "hosted", {"email": ["nobody@example.com"]}, environ) == []
