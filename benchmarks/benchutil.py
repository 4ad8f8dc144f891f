"""What the benchmarks share: a scratch PostgreSQL database, a migrated store, and HTTP load.

HTTP load always comes from processes other than the server's, on loopback, bounded by a
number of requests and a number of seconds, and stops by itself:

- `wrk` (Debian's package) when it is installed and not refused: a C load generator costs
  the two shared cores far less than the server it measures;
- else client processes running `_Connection`, a minimal asyncio HTTP/1.1 keep-alive client
  (on uvloop when installed): a general client (httpx) costs about as much as a route does.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.pool
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pledge.store import Store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"


@contextmanager
def postgres_db() -> Iterator[str | None]:
    """A fresh database on the local PostgreSQL (None when unreachable), dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:
        yield None
        return
    name = f"pledge_bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def open_store(root: Path, url: str | None = None) -> Store:
    """A migrated store in `root` (SQLite) or at `url`."""
    from pledge.config import Settings
    from pledge.store import Store
    from pledge.store.migrations import upgrade

    settings = Settings(data_dir=root, database_url=url or "", checkpoint_every=1000)
    store = Store(settings)
    upgrade(store)
    return store


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until `port` accepts connections; exits if the server process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for port {port} exited with {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not answer within {timeout} s")


@contextmanager
def running(cmd: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A server process (its own session and group) until the block ends."""
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_until_up(port, process)
        yield process
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (its workers too), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


# --- load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """GETs of `paths` in turn, with `headers`, over `connections` keep-alive connections.

    With `rate` (requests per second over all connections) requests are spaced to offer that
    rate, so latency is measured at that rate rather than at saturation (where it only says
    how many connections wait in line); 0 sends each request when the previous one answered.
    """

    port: int
    paths: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)
    requests: int = 10_000
    seconds: float = 10.0
    connections: int = 32
    rate: float = 0.0

    def but(self, **changes: Any) -> Load:
        return replace(self, **changes)

    def raw(self) -> list[bytes]:
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        return [
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n{extra}\r\n".encode()
            for path in self.paths
        ]


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

    def row(self) -> str:
        return (
            f"{self.name:<34} {self.requests:>8} {self.errors:>6} {self.rate:>8.0f} "
            f"{self.p50_ms:>7.2f} {self.p99_ms:>7.2f}"
        )


HEADER = f"{'server':<34} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"


class Generator:
    """Runs loads with wrk when available (`use_wrk`), else with Python client processes."""

    def __init__(self, clients: int = 1, use_wrk: bool = True) -> None:
        self.wrk = shutil.which("wrk") if use_wrk else None
        self.clients = clients
        self._pool: multiprocessing.pool.Pool | None = None

    def describe(self) -> str:
        if self.wrk:
            return "wrk (1 thread)"
        loop = "uvloop" if _has_uvloop() else "asyncio"
        return f"{self.clients} Python client process(es) ({loop})"

    def __enter__(self) -> Generator:
        if not self.wrk:
            self._pool = multiprocessing.get_context("spawn").Pool(self.clients)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()

    def measure(self, name: str, load: Load, warm_up: int = 1000) -> Result:
        """A warm-up of `warm_up` requests, then the measured load."""
        self.run(name, load.but(requests=warm_up, seconds=10.0, rate=0.0))
        return self.run(name, load)

    def run(self, name: str, load: Load) -> Result:
        if self.wrk:
            return _wrk(self.wrk, name, load)
        assert self._pool is not None
        share = load.but(
            requests=max(1, load.requests // self.clients),
            connections=max(1, load.connections // self.clients),
            rate=load.rate / self.clients,
        )
        parts = self._pool.map(client_process, [share] * self.clients)
        latencies = sorted(x for part in parts for x in part[0])
        statuses: Counter[int] = Counter()
        for part in parts:
            statuses.update(part[1])
        return _result(name, latencies, statuses, max(part[2] for part in parts))


def _result(name: str, latencies: list[float], statuses: Counter[int], seconds: float) -> Result:
    n = len(latencies)
    errors = sum(count for status, count in statuses.items() if status >= 400)
    if not n:
        return Result(name, 0, errors, seconds, 0.0, 0.0)
    p99 = latencies[min(n - 1, int(n * 0.99))]
    return Result(name, n, errors, seconds, latencies[n // 2] * 1000, p99 * 1000)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


class _Connection:
    """A minimal HTTP/1.1 keep-alive client: a Python load generator must cost less than the
    server it measures, and a general client (httpx) costs about as much as a route does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length, close = 0, False
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
        return int(head[9:12])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _load(load: Load) -> tuple[list[float], Counter[int]]:
    requests = load.raw()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    sent = 0
    stop_at = time.monotonic() + load.seconds
    interval = 1 / load.rate if load.rate else 0.0
    next_at = time.monotonic()

    async def pace() -> None:
        """Wait for the next free slot of the offered rate (no catching up when behind)."""
        nonlocal next_at
        now = time.monotonic()
        slot = max(next_at, now)
        next_at = slot + interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def worker() -> None:
        nonlocal sent
        conn = _Connection(load.port)
        try:
            while sent < load.requests and time.monotonic() < stop_at:
                request = requests[sent % len(requests)]
                sent += 1
                if interval:
                    await pace()
                start = time.perf_counter()
                status = await conn.get(request)
                latencies.append(time.perf_counter() - start)
                statuses[status] += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(load.connections)))
    return latencies, statuses


def client_process(load: Load) -> tuple[list[float], Counter[int], float]:
    """One client process's share of a load: latencies, statuses, seconds it took."""
    if _has_uvloop():
        import uvloop

        uvloop.install()
    start = time.perf_counter()
    latencies, statuses = asyncio.run(_load(load))
    return latencies, statuses, time.perf_counter() - start


# wrk's own summary counts the whole -d duration even when a thread stops at the count, so
# each thread times itself (LuaJIT FFI: the monotonic clock) from first request to last answer.
_WRK_SCRIPT = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pledge_timespec;
int clock_gettime(int clock, pledge_timespec *now);
]]
local clock = ffi.new("pledge_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end
local paths = {%(paths)s}
local headers = {%(headers)s}
local limit = %(limit)d
local interval = %(interval).9f
local threads = {}
local i = 0
local next_at = nil
first, elapsed, answered = nil, 0, 0
function setup(thread)
  table.insert(threads, thread)
end
if interval > 0 then
  function delay()
    local t = now()
    next_at = math.max(next_at or t, t)
    local wait = next_at - t
    next_at = next_at + interval
    return wait * 1000
  end
end
function request()
  if first == nil then first = now() end
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], headers)
end
function response(status, headers, body)
  answered = answered + 1
  elapsed = now() - first
  if answered >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local seconds = 0
  for _, thread in ipairs(threads) do
    seconds = math.max(seconds, thread:get("elapsed"))
  end
  local errors = summary.errors
  io.write(string.format("PLEDGE %%d %%d %%.6f %%d %%d\\n", summary.requests,
    errors.status + errors.connect + errors.read + errors.write + errors.timeout, seconds,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(wrk: str, name: str, load: Load) -> Result:
    """One wrk thread over `load.connections` connections, stopped at the count or the time."""
    script = _WRK_SCRIPT % {
        "paths": ", ".join(_lua(p) for p in load.paths),
        "headers": ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in load.headers.items()),
        "limit": load.requests,
        "interval": 1 / load.rate if load.rate else 0.0,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        seconds = max(1, round(load.seconds))
        command = [wrk, "-t1", f"-c{load.connections}", f"-d{seconds}s", "-s", file.name]
        out = subprocess.run(
            [*command, f"http://{HOST}:{load.port}/"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(file.name)
    found = re.search(r"^PLEDGE (\d+) (\d+) ([\d.]+) (\d+) (\d+)$", out, re.MULTILINE)
    if found is None:
        raise SystemExit(f"wrk gave no result:\n{out}")
    requests, errors, elapsed, p50, p99 = found.groups()
    return Result(
        name, int(requests), int(errors), float(elapsed), int(p50) / 1000, int(p99) / 1000
    )


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
