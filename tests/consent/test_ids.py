"""Record ids: time-ordered UUIDv7 that stay strictly increasing within one millisecond."""

from __future__ import annotations

import itertools
import time
import uuid

from pledge.consent import ids


def test_ids_strictly_increase_even_within_a_millisecond() -> None:
    made = [ids.uuid7() for _ in range(200_000)]
    assert all(a < b for a, b in itertools.pairwise(made))
    assert len(set(made)) == len(made)


def test_ids_are_rfc_9562_version_7_with_the_current_time() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(ids.uuid7())
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_proof_fields_keep_no_host_or_fingerprint() -> None:
    assert ids.truncate_ip("203.0.113.77") == "203.0.113.0/24"
    assert ids.truncate_ip("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert ids.truncate_ip("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert ids.truncate_ip("not an address") is None
    agent = ids.hash_user_agent("Mozilla/5.0")
    assert agent is not None and len(agent) == 64 and "Mozilla" not in agent
