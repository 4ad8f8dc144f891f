"""Consent decisions: in-process `policy.decide` and `GET /v1/consent/decision` under load.

    .venv/bin/python benchmarks/consent_bench.py [--requests 30000] [--seconds 10]
        [--connections 32] [--workers 1,2] [--client auto|wrk|python] [--clients 1]

1. `policy.decide` on the Lumen manifest for a mix of purposes (consent, contract,
   legitimate interests with a programme, GPC): best of 5 runs, µs per call (target < 20 µs).
2. The decision endpoint of `pledge serve --workers N` (its own processes, 127.0.0.1, SQLite,
   no embedded job worker) for each N of --workers, beside a bare ASGI app under the same
   uvicorn settings and the same process count that sends the very same response bytes
   (JSON body and security headers) without doing anything: the ceiling of the machine for
   this response. 500 subjects with recorded choices, one service key; requests go round
   500 subjects × 5 purposes on keep-alive connections. Load comes from another process:
   `wrk` when installed (`apt-get install wrk`), else Python client processes; each row is
   bounded by --requests and --seconds after a warm-up. Prints req/s and p50/p99 latency per
   row, the load average, and whether Pledge meets the target (≥ 3,000/s with p99 < 20 ms
   on 2 cores). Stops everything it started; always exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchutil import HEADER, Generator, Load, Result, free_port, load_average, running

ROOT = Path(__file__).resolve().parents[1]
LUMEN = ROOT / "examples" / "lumen"
PURPOSES = (
    "analytics.web",
    "essential.service.payment_processing",
    "analytics.product_improvement",
    "marketing.advertising.third_party.targeted",
    "marketing.events",
)
TARGET_RATE, TARGET_P99_MS = 3000, 20.0

# The ceiling: an ASGI function sending a decision's bytes, one process per socket as
# `pledge serve --workers` runs them (the same SO_REUSEPORT sockets).
BASELINE = textwrap.dedent(
    """
    import multiprocessing, sys
    import uvicorn
    from pledge.api.middleware import secure
    from pledge.runtime.supervisor import listen_sockets

    BODY = (b'{"allowed":true,"reason":"consent_given","purpose":"analytics.web",'
            b'"subject":"device:dv1-0000000000000000000000000000000000000000"}')
    HEADERS = secure([(b"content-length", str(len(BODY)).encode()),
                      (b"content-type", b"application/json")])

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})

    def serve(sock):
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                                server_header=False)
        uvicorn.Server(config).run(sockets=[sock])

    if __name__ == "__main__":
        port, workers = int(sys.argv[1]), int(sys.argv[2])
        spawn = multiprocessing.get_context("spawn")
        processes = [spawn.Process(target=serve, args=(sock,))
                     for sock in listen_sockets("127.0.0.1", port, workers)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    """
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


def prepare(data: Path, subjects: int) -> tuple[str, list[str]]:
    """A migrated store with a service key and `subjects` subjects with choices."""
    from pledge import apikeys
    from pledge.config import Settings
    from pledge.consent import records
    from pledge.consent.receipts import signer_for
    from pledge.consent.subjects import of_device
    from pledge.manifest.load import load_manifest
    from pledge.store.db import Store
    from pledge.store.migrations import upgrade

    store = Store(Settings(data_dir=data))
    upgrade(store)
    manifest = load_manifest(LUMEN / "pledge.yaml", lint=False)
    with store.transaction() as session:
        _, secret = apikeys.create(session, "bench", "service")
    signer = signer_for(data)
    vault = store.vault  # opened before the transaction (SQLite's one writer)
    names = []
    with store.transaction() as session:
        for i in range(subjects):
            subject = f"device:bench{i:012d}"  # the device id the product asks with
            mechanism = ("accept_all", "reject_all")[i % 2]
            recorded = of_device(vault, subject.removeprefix("device:"))
            choice = records.NewChoice(recorded, mechanism, "eu", "en", "bench")
            records.record(session, manifest, signer, choice, "http://bench")
            names.append(subject)
    store.dispose()
    return secret, names


def decision_paths(subjects: list[str]) -> tuple[str, ...]:
    """Every subject with every purpose, subjects changing fastest (2,500 paths for 500)."""
    return tuple(
        f"/v1/consent/decision?subject={subject}&purpose={purpose}"
        for purpose in PURPOSES
        for subject in subjects
    )


def bench_endpoint(args: argparse.Namespace) -> None:
    counts = [int(n) for n in args.workers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="pledge-consent-bench-"))
    try:
        data, manifest = tmp / "data", tmp / "lumen"
        secret, subjects = prepare(data, args.subjects)
        shutil.copytree(LUMEN, manifest, ignore=shutil.ignore_patterns("*.db", "pledge-data"))
        baseline = tmp / "baseline.py"
        baseline.write_text(BASELINE)
        env = {**os.environ, "PLEDGE_DATA_DIR": str(data)}
        paths = decision_paths(subjects)
        auth = {"Authorization": f"Bearer {secret}"}

        def load(port: int) -> Load:
            return Load(port, paths, auth, args.requests, args.seconds, args.connections)

        with Generator(args.clients, use_wrk=args.client != "python") as generator:
            if args.client == "wrk" and not generator.wrk:
                raise SystemExit("wrk is not installed (apt-get install wrk)")
            print(
                f"decision endpoint: {len(subjects)} subjects × {len(PURPOSES)} purposes, "
                f"{args.connections} connections, at most {args.requests:,} requests or "
                f"{args.seconds:g} s per row after a warm-up; load from {generator.describe()} "
                f"on 127.0.0.1; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
                f"load average {load_average()}",
                flush=True,
            )
            print(HEADER, flush=True)
            results: list[tuple[int, Result, Result]] = []
            for n in counts:
                port = free_port()
                cmd = [sys.executable, str(baseline), str(port), str(n)]
                with running(cmd, env, port):
                    measured = _twice(generator, f"bare ASGI, same bytes ×{n}", load(port))
                port = free_port()
                cmd = [sys.executable, "-c", "from pledge.cli import main; main()", "serve"]
                cmd += ["--port", str(port), "--manifest", str(manifest / "pledge.yaml")]
                cmd += ["--no-worker", "--log-level", "warning", "--workers", str(n)]
                with running(cmd, env, port):
                    measured = _twice(generator, f"pledge serve --workers {n}", load(port), 3000)
                results.append((n, *measured))
        print(f"load average after: {load_average()}")
        for n, fastest, paced in results:
            met = (
                fastest.rate >= TARGET_RATE
                and paced.rate >= 0.95 * TARGET_RATE
                and paced.p99_ms < TARGET_P99_MS
                and not (fastest.errors or paced.errors)
            )
            print(
                f"--workers {n}: {'PASS' if met else 'FAIL'} (target ≥ {TARGET_RATE:,} req/s, "
                f"and p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:,} req/s, no errors)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _twice(
    generator: Generator, name: str, load: Load, warm_up: int = 1000
) -> tuple[Result, Result]:
    """As fast as it goes, then offered the target rate; prints both rows."""
    fastest = generator.measure(f"{name}, max", load, warm_up)
    print(fastest.row(), flush=True)
    paced = generator.run(f"{name}, {TARGET_RATE:,}/s", load.but(rate=TARGET_RATE))
    print(paced.row(), flush=True)
    return fastest, paced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30_000, help="per row (bound)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per row (bound)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="API process counts to measure")
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--clients", type=int, default=1, help="Python client processes")
    args = parser.parse_args()
    bench_inprocess()
    bench_endpoint(args)


if __name__ == "__main__":
    main()
