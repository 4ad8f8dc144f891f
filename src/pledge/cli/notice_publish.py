"""`pledge notice publish`: record a new version of the notices (P-G16, P-S19).

Lives beside `pledge.cli.notice` and adds itself to its `notice_app` group, so publishing can
change without touching how notices are rendered.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.notice import notice_app
from pledge.cli.output import fail
from pledge.errors import PledgeError

if TYPE_CHECKING:
    from pledge.notices.versions import NoticeVersion


def publish_command(
    ctx: typer.Context,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", "-m", help="Manifest file; default ./pledge.yaml or $PLEDGE_MANIFEST"
        ),
    ] = None,
    effective: Annotated[
        datetime | None,
        typer.Option(
            "--effective",
            formats=["%Y-%m-%d"],
            help="Date the version takes effect (YYYY-MM-DD); default today",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Publish a material change before the notice period is over"),
    ] = False,
) -> None:
    """Record the manifest as a new notice version; a material change needs the notice period.

    An effective date less than the manifest's notice period away is refused for a material
    change unless --force is given, and the record then says it was forced (P-G16).
    """
    from pledge.manifest.load import default_path
    from pledge.notices.versions import history_path, publish

    path = manifest or _group_manifest(ctx) or default_path()
    day: date | None = effective.date() if effective is not None else None
    try:
        version = publish(path, effective=day, force=force)
    except PledgeError as exc:
        fail(str(exc))
    for line in describe(version):
        typer.echo(line)
    typer.echo(f"recorded in {history_path(path)}", err=True)


def _group_manifest(ctx: typer.Context) -> str | None:
    """`pledge notice --manifest X publish` names the manifest on the group: honour it too."""
    parent = ctx.parent.params.get("manifest") if ctx.parent is not None else None
    return parent if isinstance(parent, str) else None


def describe(version: NoticeVersion) -> list[str]:
    """What a person publishing wants to see: which version, when, and what changed."""
    lines = [
        f"published version {version.version} (digest {version.digest[:12]}), "
        f"effective {version.effective.isoformat()}",
        f"material: {'yes' if version.material else 'no'}"
        + (" (notice period overridden with --force)" if version.forced else ""),
    ]
    if version.version == 1:
        lines.append("changes: none (first version)")
        return lines
    lines.append(f"changes: {len(version.changes)}")
    for change in version.changes:
        mark = "!" if change.get("material") else "-"
        lines.append(f"  {mark} {change.get('summary')} ({change.get('reason')})")
    return lines


def register(app: typer.Typer) -> None:
    """Add `publish` to the `pledge notice` group (once, however often this is called)."""
    if not any(c.name == "publish" for c in notice_app.registered_commands):
        notice_app.command("publish")(publish_command)
