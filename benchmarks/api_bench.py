"""The API under load from other processes on loopback: requests per second, p50 and p99.

    .venv/bin/python benchmarks/api_bench.py [--requests 5000] [--seconds 20] [--concurrency 16]

Starts `pledge serve` (no embedded worker, temporary data folder, the example manifest) and,
as the baseline, a bare Starlette "hello" endpoint under the same uvicorn settings, each in
its own process. Load comes from separate client processes (asyncio, a minimal HTTP/1.1
client on keep-alive connections), each endpoint bounded by a number of requests and a
number of seconds, after a
warm-up. Measured:

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
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


@contextmanager
def running(cmd: list[str], env: dict[str, str], url: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_until_up(url, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


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


# --- load generation (runs in client processes) -------------------------------------------------


class _Connection:
    """A minimal HTTP/1.1 keep-alive client: a Python load generator must cost less than the
    server it measures, and a general client (httpx) costs about as much as a route does."""

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _load(
    url: str, headers: dict[str, str], count: int, concurrency: int, seconds: float
) -> tuple[list[float], dict[int, int]]:
    parsed = httpx.URL(url)
    target = parsed.raw_path.decode()
    lines = [f"GET {target} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    remaining = count
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal remaining
        conn = _Connection(parsed.host, parsed.port or 80, request)
        try:
            while remaining > 0 and time.monotonic() < stop_at:
                remaining -= 1
                start = time.perf_counter()
                status = await conn.get()
                latencies.append(time.perf_counter() - start)
                statuses[status] += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, dict(statuses)


def client_process(
    args: tuple[str, dict[str, str], int, int, float],
) -> tuple[list[float], dict[int, int], float]:
    url, headers, count, concurrency, seconds = args
    start = time.perf_counter()
    latencies, statuses = asyncio.run(_load(url, headers, count, concurrency, seconds))
    return latencies, statuses, time.perf_counter() - start


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def measure(
    pool: multiprocessing.pool.Pool,
    name: str,
    url: str,
    headers: dict[str, str],
    requests: int,
    seconds: float,
    concurrency: int,
    clients: int,
) -> Result:
    per_client = max(1, concurrency // clients)
    warm = [(url, headers, 100, per_client, 10.0)] * clients
    pool.map(client_process, warm)
    jobs = [(url, headers, requests // clients, per_client, seconds)] * clients
    start = time.perf_counter()
    parts = pool.map(client_process, jobs)
    wall = time.perf_counter() - start
    latencies = sorted(x for part in parts for x in part[0])
    statuses: Counter[int] = Counter()
    for part in parts:
        statuses.update(part[1])
    errors = sum(n for status, n in statuses.items() if status >= 400)
    busy = max(part[2] for part in parts) or wall
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0
    return Result(
        name,
        len(latencies),
        errors,
        busy,
        statistics.median(latencies) * 1000 if latencies else 0,
        p99 * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="per endpoint (bound)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint (bound)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in total")
    parser.add_argument("--clients", type=int, default=0, help="client processes (default: auto)")
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
        pledge = [sys.executable, "-c", "from pledge.cli import main; main()"]
        port, base_port = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [*pledge, "serve", "--port", str(port), "--manifest", str(MANIFEST), "--no-worker"]
        serve += ["--log-level", "warning"]
        baseline = [sys.executable, "-c", BASELINE_APP, str(base_port)]
        print(
            f"{clients} client process(es), {args.concurrency} connections, at most "
            f"{args.requests} requests or {args.seconds:g} s per endpoint; "
            f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
            flush=True,
        )
        results = []
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(clients) as pool:
            hello = f"http://127.0.0.1:{base_port}/hello"
            with running(baseline, env, hello):
                results.append(
                    measure(
                        pool,
                        "baseline hello",
                        hello,
                        {},
                        args.requests,
                        args.seconds,
                        args.concurrency,
                        clients,
                    )
                )
            with running(serve, env, f"{base}/health"):
                results.append(
                    measure(
                        pool,
                        "GET /health",
                        f"{base}/health",
                        {},
                        args.requests,
                        args.seconds,
                        args.concurrency,
                        clients,
                    )
                )
                auth = {"Authorization": f"Bearer {secret}"}
                results.append(
                    measure(
                        pool,
                        "GET /v1/audit?limit=10",
                        f"{base}/v1/audit?limit=10",
                        auth,
                        args.requests,
                        args.seconds,
                        args.concurrency,
                        clients,
                    )
                )
    print()
    print(
        f"{'endpoint':<24} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    )
    for r in results:
        print(
            f"{r.name:<24} {r.requests:>9} {r.errors:>7} {r.rate:>9.0f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
        )
    floor = results[0].rate
    for r in results[1:]:
        if floor:
            print(f"{r.name}: {r.rate / floor:.0%} of the bare Starlette baseline's rate")


if __name__ == "__main__":
    main()
