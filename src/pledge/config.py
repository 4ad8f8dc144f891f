"""Runtime configuration from `PLEDGE_*` environment variables (DESIGN §3).

With nothing set, everything lives under `./pledge-data/`: the SQLite database, the master key
and the audit signing key. Paths that are not given explicitly are derived from `data_dir`, so
pointing `PLEDGE_DATA_DIR` elsewhere moves the whole installation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pledge.errors import ConfigError

DATA_DIR_MODE = 0o700
FILE_MODE = 0o600
#: Links in mail point here when PLEDGE_PUBLIC_URL is unset and no server address is known
#: (CLI commands); `pledge serve` and `pledge demo` default to the address they serve on.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    """Where Pledge keeps its state and how it is reached."""

    model_config = SettingsConfigDict(env_prefix="PLEDGE_", extra="ignore")

    data_dir: Path = Field(
        default=Path("pledge-data"), description="Folder for the database, keys and outbox."
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default sqlite:///<data_dir>/pledge.db."
    )
    manifest: Path | None = Field(default=None, description="The pledge.yaml to serve.")
    master_key_file: Path | None = Field(
        default=None, description="Master key file; default <data_dir>/master.key."
    )
    audit_key_file: Path | None = Field(
        default=None, description="Ed25519 key signing audit checkpoints; default in data_dir."
    )
    smtp_url: str | None = Field(default=None, description="smtp://… ; unset writes .eml files.")
    public_url: str = Field(
        default=DEFAULT_PUBLIC_URL,
        description="Public base URL of the service, used in mailed links; default: the "
        "address `pledge serve`/`pledge demo` serve on.",
    )
    checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign an audit checkpoint every this many events."
    )
    audit_head_file: Path | None = Field(
        default=None,
        description="Signed head of the audit log, kept outside the database; default in data_dir.",
    )
    phone_region: str = Field(
        default="US",
        pattern=r"^[A-Za-z]{2}$",
        description="Country a phone number without country code is read in (blind index).",
    )

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().absolute()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'pledge.db'}"
        if self.master_key_file is None:
            self.master_key_file = self.data_dir / "master.key"
        if self.audit_key_file is None:
            self.audit_key_file = self.data_dir / "audit-signing.key"
        if self.audit_head_file is None:
            self.audit_head_file = self.data_dir / "audit-head.json"
        return self

    @property
    def public_url_given(self) -> bool:
        """True when PLEDGE_PUBLIC_URL (or the `public_url` argument) was set."""
        return "public_url" in self.model_fields_set

    def serving_at(self, host: str, port: int) -> Settings:
        """These settings for a server on `host:port`: links default to that address.

        A wildcard address (0.0.0.0, ::) names no reachable host, so links then use the
        loopback address; behind a proxy or on another host, set PLEDGE_PUBLIC_URL.
        """
        if self.public_url_given:
            return self
        return self.model_copy(update={"public_url": address_url(host, port)})

    @property
    def master_key_path(self) -> Path:
        """The master key file (always set after validation)."""
        assert self.master_key_file is not None
        return self.master_key_file

    @property
    def audit_key_path(self) -> Path:
        """The audit signing key file (always set after validation)."""
        assert self.audit_key_file is not None
        return self.audit_key_file

    @property
    def audit_head_path(self) -> Path:
        """The file holding the audit log's signed head (always set after validation)."""
        assert self.audit_head_file is not None
        return self.audit_head_file


def get_settings(**given: Any) -> Settings:
    """Read the settings from the environment now; `given` values win over the environment.

    Cheap and not cached, so tests can change the environment. Pledge reads the environment
    here only, and never writes it: a command that overrides a setting passes it in `given`.
    """
    return Settings(**given)


def address_url(host: str, port: int) -> str:
    """`http://host:port` for a listening address (IPv6 in brackets, wildcards as loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the owner only; leave an existing one as it is.

    An existing folder is not re-permissioned: the operator may have chosen its mode on purpose.
    """
    try:
        if not path.exists():
            path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
            os.chmod(path, DATA_DIR_MODE)  # mkdir's mode is filtered by the umask
        elif not path.is_dir():
            raise ConfigError(f"{path}: exists and is not a folder; set PLEDGE_DATA_DIR elsewhere")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create the data folder ({exc.strerror}); "
            "set PLEDGE_DATA_DIR to a writable folder"
        ) from exc
    return path


def ensure_private_file(path: Path) -> Path:
    """Create `path` empty, readable by the owner only, unless it exists (left as it is).

    SQLite creates its database with the umask's mode (often 0644) and gives the -wal and
    -shm files the mode of the database, so creating the file first keeps all three private.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the file ({exc.strerror})") from exc
    os.close(fd)
    return path
