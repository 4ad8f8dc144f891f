"""Time-ordered record ids (UUIDv7, RFC 9562) and the proof fields kept instead of raw data."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7() -> str:
    """A UUIDv7: 48-bit Unix milliseconds then random bits, strictly increasing per process.

    Sorting the text sorts by time, so the log reads in order without a separate sequence;
    two ids in the same millisecond still sort in the order they were made. The counter is the
    122 free bits as one number (milliseconds, then 74 random bits), incremented on a tie and
    only then spread around the version and variant bits, so the spreading keeps the order.
    """
    global _last
    with _lock:
        state = (time.time_ns() // 1_000_000) << 74 | int.from_bytes(os.urandom(10), "big") >> 6
        if state <= _last:
            state = _last + 1
        _last = state
    millis, rand_a, rand_b = state >> 74, (state >> 62) & 0xFFF, state & ((1 << 62) - 1)
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b
    return str(uuid.UUID(int=value))


DEVICE_REF = "dv1-"
_DEVICE_REF_HEX = 40


def device_ref(key: bytes, device_id: str) -> str:
    """The subject reference of a device: `device:dv1-<keyed hash>`, never the id itself.

    A device id is the visitor's only credential for their choices, so only this keyed hash
    is stored, signed into receipts, audited and shown to staff. A reference presented as a
    device id (a cookie, say) is hashed again and names another device: it opens nothing.
    """
    mac = hmac.new(key, b"pledge/consent/device/v1\x00" + device_id.encode(), hashlib.sha256)
    return f"device:{DEVICE_REF}{mac.hexdigest()[:_DEVICE_REF_HEX]}"


def is_device_ref(subject: str) -> bool:
    """True for `device:dv1-<hash>` as `device_ref` makes it (not a clear device id)."""
    body = subject.removeprefix("device:" + DEVICE_REF)
    return (
        len(subject) == len("device:" + DEVICE_REF) + _DEVICE_REF_HEX
        and body != subject
        and all(c in "0123456789abcdef" for c in body)
    )


def vault_subject(subject_id: str) -> str:
    """The consent layer's name of a vault subject (a device is `device:<id>`)."""
    return f"subject:{subject_id}"


def truncate_ip(address: str | None) -> str | None:
    """The network, not the host: IPv4 /24, IPv6 /48 — enough to show where a choice came
    from (and spot a flood of forged ones) without keeping the visitor's address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def hash_user_agent(user_agent: str | None) -> str | None:
    """SHA-256 of the User-Agent: matches a browser later without storing its fingerprint."""
    if not user_agent:
        return None
    return hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest()
