"""Lint rules: each notice must say whom it is for, what it covers and when it takes effect."""

from __future__ import annotations

from collections.abc import Iterator

from pledge.manifest.findings import Finding
from pledge.manifest.lint import Context, rule
from pledge.manifest.lint.references import DEFINED_IN, suggest


@rule("notice-scope", "error", "a notice naming systems or subjects that do not exist")
def notice_scope(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    subjects = manifest.taxonomy.subjects
    for key, notice in manifest.notices.items():
        for field, kind, names, known, where in (
            ("systems", "system", notice.systems, manifest.systems, "under `systems:`"),
            ("audience", "subject", notice.audience, subjects, DEFINED_IN["subject"]),
        ):
            for i, name in enumerate(names):
                if name not in known:
                    yield ctx.finding(
                        "notice-scope",
                        ("notices", key, field, i),
                        f"notice '{key}' covers {kind} '{name}', which is not defined {where}",
                        suggest(name, known) or f"define it {where} or remove it from the notice",
                    )


@rule("notice-effective", "error", "a notice without an effective date (P-S2)")
def notice_effective(ctx: Context) -> Iterator[Finding]:
    for key, notice in ctx.manifest.notices.items():
        if notice.effective is None:
            yield ctx.finding(
                "notice-effective",
                ("notices", key),
                f"notice '{key}' has no effective date, which every notice must state (P-S2)",
                "add `effective: YYYY-MM-DD`",
                key=True,
            )
