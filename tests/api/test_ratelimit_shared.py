"""Shared rate-limit buckets: every limiter mapping one file draws on the same buckets."""

from __future__ import annotations

from pathlib import Path

from pledge.api.ratelimit import RateLimiter, SharedRateLimiter, create_bucket_file


def test_limiters_on_one_file_share_each_address_bucket(tmp_path: Path) -> None:
    path = tmp_path / "buckets"
    create_bucket_file(path)
    one, two = SharedRateLimiter(2.0, 4, path), SharedRateLimiter(2.0, 4, path)
    try:
        taken = [lim.take("203.0.113.7", now=100.0) for lim in (one, two, one, two, one)]
        assert taken[:4] == [0.0] * 4 and taken[4] == 0.5  # the burst once, not per limiter
        assert two.take("198.51.100.1", now=100.0) == 0.0  # another address: its own bucket
        assert one.take("203.0.113.7", now=100.6) == 0.0  # refilled at 2 per second
        assert two.take("203.0.113.7", now=100.6) > 0
        assert one.take("203.0.113.7", now=1000.0) == 0.0  # never more than the burst back
        assert [two.take("203.0.113.7", now=1000.0) for _ in range(3)] == [0.0] * 3
        assert two.take("203.0.113.7", now=1000.0) > 0
    finally:
        one.close()
        two.close()


def test_a_shared_limiter_answers_like_the_in_process_one(tmp_path: Path) -> None:
    path = tmp_path / "buckets"
    create_bucket_file(path)
    shared, local = SharedRateLimiter(3.0, 5, path), RateLimiter(3.0, 5)
    try:
        moments = [0.0, 0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.5, 0.9, 0.9, 3.0, 3.0, 3.0]
        for now in moments:
            assert shared.take("a", now=10 + now) == local.take("a", now=10 + now), now
    finally:
        shared.close()
