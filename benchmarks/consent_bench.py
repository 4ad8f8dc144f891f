"""Consent decisions: in-process `policy.decide` and `GET /v1/consent/decision` under load.

    .venv/bin/python benchmarks/consent_bench.py [--requests 10000] [--connections 32]

1. `policy.decide` on the Lumen manifest for a mix of purposes (consent, contract,
   legitimate interests with a programme, GPC): best of 5 runs, µs per call (target < 20 µs).
2. The decision endpoint served by uvicorn (one worker, its own process) on loopback, loaded
   from this process with keep-alive connections: 500 subjects with recorded choices, every
   request a different subject/purpose; bounded by --requests and --seconds. Reports req/s
   and p50/p99 latency (target ≥ 3,000/s, p99 < 20 ms on 2 cores). Always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LUMEN = ROOT / "examples" / "lumen"
PURPOSES = (
    "analytics.web",
    "essential.service.payment_processing",
    "analytics.product_improvement",
    "marketing.advertising.third_party.targeted",
    "marketing.events",
)


def bench_inprocess() -> None:
    from pledge.manifest.load import load_manifest
    from pledge.policy import SubjectState, decide

    manifest = load_manifest(LUMEN / "pledge.yaml", lint=False)
    states = [
        SubjectState("eu", {"analytics.web": True}),
        SubjectState("us-ca", {"marketing.advertising.third_party.targeted": True}, gpc=True),
        SubjectState("global", {}, programmes={"ceip": False}),
    ]
    n = 200_000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for i in range(n):
            decide(manifest, PURPOSES[i % 5], states[i % 3])
        best = min(best, time.perf_counter() - start)
    print(f"policy.decide: {best / n * 1e6:.2f} µs per decision (best of 5 × {n:,}; target < 20)")


SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from pledge.api.app import create_app
    from pledge.config import Settings
    from pledge.manifest_holder import ManifestHolder
    from pledge.store.db import Store
    data, manifest, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(Settings(data_dir=data))
    app = create_app(store.settings, store, ManifestHolder(manifest))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    """
)


def prepare(data: Path) -> tuple[str, list[str]]:
    """A migrated store with a service key and 500 subjects with choices."""
    from pledge import apikeys
    from pledge.config import Settings
    from pledge.consent import records
    from pledge.consent.receipts import signer_for
    from pledge.manifest.load import load_manifest
    from pledge.store.db import Store
    from pledge.store.migrations import upgrade

    store = Store(Settings(data_dir=data))
    upgrade(store)
    manifest = load_manifest(LUMEN / "pledge.yaml", lint=False)
    with store.transaction() as session:
        _, secret = apikeys.create(session, "bench", "service")
    signer = signer_for(data)
    subjects = []
    with store.transaction() as session:
        for i in range(int(os.environ.get("BENCH_SUBJECTS", "500"))):
            subject = f"device:bench{i:012d}"
            mechanism = ("accept_all", "reject_all")[i % 2]
            choice = records.NewChoice(subject, mechanism, "eu", "en", "bench")
            records.record(session, manifest, signer, choice, "http://bench")
            subjects.append(subject)
    store.dispose()
    return secret, subjects


async def load(
    port: int, secret: str, subjects: list[str], total: int, conns: int, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    next_i = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal next_i, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while next_i < total and time.perf_counter() < deadline:
            i = next_i
            next_i += 1
            subject, purpose = subjects[i % len(subjects)], PURPOSES[i % 5]
            path = f"/v1/consent/decision?subject={subject}&purpose={purpose}"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conns)))
    return latencies, errors, time.perf_counter() - start


def bench_endpoint(total: int, conns: int, seconds: float) -> None:
    data = Path(tempfile.mkdtemp(prefix="pledge-consent-bench-"))
    try:
        secret, subjects = prepare(data / "data")
        manifest_dir = data / "lumen"
        shutil.copytree(LUMEN, manifest_dir)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER,
                str(data / "data"),
                str(manifest_dir / "pledge.yaml"),
                str(port),
            ],
            env={**os.environ, "PLEDGE_DATA_DIR": str(data / "data")},
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            asyncio.run(load(port, secret, subjects, 1000, conns, 10))  # warm up the caches
            latencies, errors, elapsed = asyncio.run(
                load(port, secret, subjects, total, conns, seconds)
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
        latencies.sort()
        n = len(latencies)
        p50 = latencies[n // 2] * 1000
        p99 = latencies[min(n - 1, int(n * 0.99))] * 1000
        print(
            f"decision endpoint: {n:,} requests in {elapsed:.2f} s = {n / elapsed:,.0f} req/s, "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, {errors} non-200 "
            f"({conns} connections, 1 uvicorn worker, {os.cpu_count()} CPUs; "
            "target ≥ 3,000/s, p99 < 20 ms)"
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    bench_inprocess()
    bench_endpoint(args.requests, args.connections, args.seconds)


if __name__ == "__main__":
    main()
