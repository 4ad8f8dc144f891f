"""Subject references of the consent log: devices by keyed hash, known people by vault id.

Every place that turns what a caller sent into the `subject` of a record, a limit, a decision
or a read goes through `reference`, so a clear device id never reaches the log, a receipt,
the audit log or a staff answer. The key is derived from the vault's installation secret
(stable across master-key rotations, like the blind index).
"""

from __future__ import annotations

import re

from pledge.consent.ids import device_ref, is_device_ref
from pledge.store.vault import Vault

KEY_LABEL = "consent-device-ref"
SUBJECT_PATTERN = re.compile(r"^(device|subject):[A-Za-z0-9_-]{8,64}$")
_keys: dict[int, tuple[Vault, bytes]] = {}


class SubjectError(ValueError):
    """A subject that is neither `device:<id>` nor `subject:<vault id>`."""


def device_key(vault: Vault) -> bytes:
    """The installation's key for device references (derived once per vault)."""
    found = _keys.get(id(vault))
    if found is not None and found[0] is vault:
        return found[1]
    key = vault.derive_key(KEY_LABEL)
    _keys[id(vault)] = (vault, key)
    return key


def of_device(vault: Vault, device_id: str) -> str:
    """The reference of the device whose (secret) id is `device_id`."""
    return device_ref(device_key(vault), device_id)


def reference(vault: Vault, raw: str) -> str:
    """What a caller named, as the log names it: a bare id or `device:<id>` is a device id
    and is hashed; a device reference and `subject:<vault id>` are kept as they are."""
    key = raw if ":" in raw else f"device:{raw}"
    if not SUBJECT_PATTERN.match(key):
        raise SubjectError("subject is device:<id> or subject:<vault id>")
    if key.startswith("subject:") or is_device_ref(key):
        return key
    return of_device(vault, key.removeprefix("device:"))
