"""Runtime configuration from `PLEDGE_*` environment variables (DESIGN §3).

With nothing set, everything lives under `./pledge-data/`: the SQLite database, the master key
and the audit signing key. Paths that are not given explicitly are derived from `data_dir`, so
pointing `PLEDGE_DATA_DIR` elsewhere moves the whole installation.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pledge.errors import ConfigError

DATA_DIR_MODE = 0o700


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
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base URL in links.")
    checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign an audit checkpoint every this many events."
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
        return self

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


def get_settings() -> Settings:
    """Read the settings from the environment now (cheap; not cached, so tests can change env)."""
    return Settings()


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
