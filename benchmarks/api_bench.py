"""The API under load from other processes on loopback: requests per second, p50 and p99.

    .venv/bin/python benchmarks/api_bench.py [--requests 5000] [--seconds 20] [--concurrency 16]
        [--client auto|wrk|python] [--clients N]

Starts `pledge serve` (no embedded worker, temporary data folder, the example manifest) and,
as the baseline, a bare Starlette "hello" endpoint under the same uvicorn settings, each in
its own process. Load comes from another process (`benchutil`: wrk when installed, else
Python client processes with a minimal HTTP/1.1 client) on keep-alive connections, each
endpoint bounded by a number of requests and a number of seconds, after a warm-up. Measured:

| endpoint       | what runs per request                                                      |
|----------------|----------------------------------------------------------------------------|
| baseline hello | uvicorn + Starlette routing + a JSON body: the floor for any Python route  |
| GET /health    | middleware (headers, metrics, body limit), rate limiter; the database read |
|                | behind it is reused for a second, so mostly no thread hop and no query     |
| GET /v1/audit  | middleware, API key check (cached 5 s), one page of 10 audit events: a read |
|                | in the thread pool, response validation and JSON                           |

Public routes are rate limited per client address; the benchmark raises the limit
(PLEDGE_PUBLIC_RATE) so the figure is the service's, not the limiter's. Everything started is
stopped at the end, also on Ctrl-C. Prints a table and exits 0; figures depend on the machine.
The decision route's own benchmark, with several workers, is consent_bench.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchutil import HEADER, Generator, Load, Result, free_port, load_average, running

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "examples" / "lumen" / "pledge.yaml"
BASELINE_APP = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def hello(request):
    return JSONResponse({"hello": "world"})

app = Starlette(routes=[Route("/hello", hello)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, server_header=False)
"""


def prepare_data(data_dir: Path, events: int) -> str:
    """A migrated store with `events` audit events and an auditor key; returns the key."""
    from pledge import apikeys
    from pledge.config import Settings
    from pledge.store import Store, audit
    from pledge.store.migrations import upgrade

    store = Store(Settings(data_dir=data_dir))
    upgrade(store)
    with store.transaction() as session:
        for i in range(events):
            audit.append(session, "bench", "bench.event", "thing", f"t{i}", {"i": i})
        _, secret = apikeys.create(session, "api bench", "auditor", actor="bench")
    store.dispose()
    return secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="per endpoint (bound)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint (bound)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in total")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--clients", type=int, default=0, help="Python client processes")
    parser.add_argument("--events", type=int, default=2000, help="audit events in the store")
    args = parser.parse_args()
    clients = args.clients or max(1, min(4, (os.cpu_count() or 2) - 1))

    with tempfile.TemporaryDirectory(prefix="pledge-api-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        secret = prepare_data(data_dir, args.events)
        env = {
            **os.environ,
            "PLEDGE_DATA_DIR": str(data_dir),
            "PLEDGE_PUBLIC_RATE": "1000000000",
            "PLEDGE_PUBLIC_BURST": "1000000000",
        }
        port, base_port = free_port(), free_port()
        serve = [sys.executable, "-c", "from pledge.cli import main; main()", "serve"]
        serve += ["--port", str(port), "--manifest", str(MANIFEST), "--no-worker"]
        serve += ["--log-level", "warning"]
        baseline = [sys.executable, "-c", BASELINE_APP, str(base_port)]

        def load(on: int, path: str, headers: dict[str, str] | None = None) -> Load:
            conns = args.concurrency
            return Load(on, (path,), headers or {}, args.requests, args.seconds, conns)

        results: list[Result] = []
        with Generator(clients, use_wrk=args.client != "python") as generator:
            print(
                f"load from {generator.describe()}, {args.concurrency} connections, at most "
                f"{args.requests} requests or {args.seconds:g} s per endpoint; "
                f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
                f"load average {load_average()}",
                flush=True,
            )
            with running(baseline, env, base_port):
                results.append(generator.measure("baseline hello", load(base_port, "/hello")))
            with running(serve, env, port):
                results.append(generator.measure("GET /health", load(port, "/health")))
                auth = {"Authorization": f"Bearer {secret}"}
                audit = load(port, "/v1/audit?limit=10", auth)
                results.append(generator.measure("GET /v1/audit?limit=10", audit))
    print()
    print(HEADER)
    for r in results:
        print(r.row())
    print(f"load average after: {load_average()}")
    floor = results[0].rate
    for r in results[1:]:
        if floor:
            print(f"{r.name}: {r.rate / floor:.0%} of the bare Starlette baseline's rate")


if __name__ == "__main__":
    main()
