"""The installation: everything one running Pledge shares, built once from the settings.

One object answers "which database, which keys, which manifest, which mail, which product
databases" for the API, the job workers and the CLI commands, so they cannot disagree (the
demo's worker once looked for its manifest in the environment and never found it). The
environment is read once, into `Settings` and `connections`, and never written: a command
that overrides a setting (`pledge demo --data-dir`) passes it to `get_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pledge.config import Settings, ensure_private_dir
from pledge.errors import ConfigError
from pledge.runtime.workers import load_handler_modules
from pledge.store.db import Store
from pledge.store.jobs import Resources, Worker, WorkerThread

if TYPE_CHECKING:
    from pledge.mail.transport import Transport
    from pledge.manifest.model import Manifest
    from pledge.manifest_holder import ManifestHolder


@dataclass
class Installation:
    """Settings, store (with vault and signer), manifest holder, mail and connections.

    `holder` is None for commands that need no manifest (`pledge db`, `pledge keys`); a job
    that needs one then fails at once with the reason instead of waiting for ever.
    `connections` is where the manifest's connections find their URLs (`url_env`): the
    process environment as read at start, plus what the installation was given (the demo's
    own product databases).
    """

    settings: Settings
    store: Store
    holder: ManifestHolder | None = None
    connections: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def manifest(self) -> Manifest:
        """The manifest in force (ConfigError when this installation has none)."""
        if self.holder is None:
            raise ConfigError(
                f"no manifest is configured in {self.settings.data_dir}'s installation: "
                "set PLEDGE_MANIFEST to your pledge.yaml"
            )
        return self.holder.manifest

    @property
    def mail(self) -> Transport:
        """How mail leaves: SMTP when PLEDGE_SMTP_URL is set, else the outbox folder."""
        from pledge.mail.transport import transport_for

        return transport_for(self.settings)

    def resources(self) -> Resources:
        """What every job of this installation gets beside the store (`ctx.manifest` …)."""
        holder = self.holder
        source = (lambda: holder.manifest) if holder is not None else None
        return Resources(manifest=source, environ=self.connections)

    def worker(self, **options: Any) -> Worker:
        """A job worker of this installation (options as `pledge.store.jobs.Worker`), with
        Pledge's job handlers loaded (`runtime.workers`)."""
        load_handler_modules()
        return Worker(self.store, resources=self.resources(), **options)

    def worker_thread(self, **options: Any) -> WorkerThread:
        """The embedded worker of `pledge serve`, in a daemon thread (handlers loaded)."""
        load_handler_modules()
        return WorkerThread(self.store, resources=self.resources(), **options)

    def close(self) -> None:
        """Close the database connections (before the process exits, and in tests)."""
        self.store.dispose()


def open_installation(
    settings: Settings,
    *,
    manifest: str | Path | None = None,
    holder: ManifestHolder | None = None,
    connections: Mapping[str, str] | None = None,
    migrate: bool = False,
    store: Store | None = None,
) -> Installation:
    """Build the installation: store migrated (`migrate`) or checked current, keys loaded.

    The manifest is `holder`, or loaded from `manifest` (ManifestError when it has errors);
    with neither, the installation has none. Key and database problems show now, not in the
    first request or job.
    """
    from pledge.manifest_holder import ManifestHolder
    from pledge.store.migrations import require_current, upgrade

    ensure_private_dir(settings.data_dir)
    store = store or Store(settings)
    if migrate:
        upgrade(store)
    else:
        require_current(store)
    store.vault  # noqa: B018  (the master key is read, or made for a new installation, now)
    store.signer  # noqa: B018
    if holder is None and manifest is not None:
        holder = ManifestHolder(str(manifest))
    env = dict(os.environ)
    env.update(connections or {})
    return Installation(settings, store, holder, env)
