"""Who may do what: the one table of roles and permissions (also rendered in docs/api.md).

Routes declare the permission they need; `auth.require` checks the caller's key against this
table. A route with no permission must be marked public explicitly.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("admin", "privacy_officer", "support_agent", "auditor", "service")

PERMISSIONS: dict[str, tuple[str, frozenset[str]]] = {
    # permission: (what it allows, roles that have it)
    "audit:read": (
        "Read and export the audit log",
        frozenset({"admin", "auditor", "privacy_officer"}),
    ),
    "audit:checkpoint": ("Create signed audit checkpoints", frozenset({"admin", "auditor"})),
    "keys:manage": ("Create, list and revoke API keys", frozenset({"admin"})),
    "manifest:reload": ("Reload the manifest", frozenset({"admin"})),
    "manifest:read": (
        "Read the loaded manifest's status",
        frozenset({"admin", "privacy_officer", "auditor", "support_agent", "service"}),
    ),
    "metrics:read": ("Scrape Prometheus metrics", frozenset({"admin", "auditor", "service"})),
    "jobs:read": ("Inspect the job queue", frozenset({"admin", "privacy_officer"})),
    "requests:read": (
        "List and read data subject requests",
        frozenset({"admin", "privacy_officer", "support_agent", "auditor"}),
    ),
    "requests:submit": (
        "Enter requests received by post or phone",
        frozenset({"admin", "privacy_officer", "support_agent"}),
    ),
    "requests:manage": (
        "Approve, deny, extend and retry requests",
        frozenset({"admin", "privacy_officer"}),
    ),
    "consent:read": (
        "Read consent records and export the log",
        frozenset({"admin", "privacy_officer", "support_agent", "auditor"}),
    ),
    "consent:decide": (
        "Ask whether a purpose may run for a subject",
        frozenset({"admin", "privacy_officer", "service"}),
    ),
    "consent:write": (
        "Record choices on a person's behalf or by import",
        frozenset({"admin", "privacy_officer", "service"}),
    ),
    "consent:import": (
        "Import consent records in bulk from another consent tool",
        frozenset({"admin", "privacy_officer"}),
    ),
}


def roles_with(permission: str) -> frozenset[str]:
    return PERMISSIONS[permission][1]


def permissions_of(role: str) -> list[str]:
    return sorted(p for p, (_, roles) in PERMISSIONS.items() if role in roles)


def markdown_table() -> str:
    """The permission table as Markdown, for docs/api.md."""
    header = "| permission | allows | " + " | ".join(ROLES) + " |"
    lines = [header, "|---|---|" + "---|" * len(ROLES)]
    for name, (what, roles) in PERMISSIONS.items():
        marks = " | ".join("✓" if r in roles else "" for r in ROLES)
        lines.append(f"| `{name}` | {what} | {marks} |")
    return "\n".join(lines)
