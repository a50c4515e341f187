"""Benchmark: authenticated `GET /api/v1/persons` (50 a page) against a real server.

Generates N persons (each with an e-mail, a phone and tags) in its own database, creates
an API key, starts `rapport serve` (granian, WSGI) or, for comparison, uvicorn on the
ASGI entry point, on a free local port, drives it with wrk (or a bounded Python client
when wrk is absent) and prints requests/s and p50/p95/p99 latency. Pages are spread over
the whole table: each wrk connection walks keyset cursors taken from the real API.

    .venv/bin/python benchmarks/api_persons.py --customers 100000
    .venv/bin/python benchmarks/api_persons.py --customers 100000 --server uvicorn --workers 2

Target (issue 4): >= 400 requests/s with p95 < 100 ms on a 2-core machine.
Data generation writes rows in bulk straight through the ORM (not the services) because
it is set-up, not the thing measured; the database lives under --var (default
var/bench-api/) and is reused when it already holds enough persons.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=20, help="Seconds of load.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server", choices=["rapport", "uvicorn"], default="rapport")
    parser.add_argument("--workers", type=int, default=2, help="Web server processes.")
    parser.add_argument("--threads", type=int, default=2, help="Threads per web process.")
    parser.add_argument("--var", default=str(ROOT / "var" / "bench-api"))
    parser.add_argument(
        "--database-url", default="", help="Default: a SQLite file under --var (WAL)."
    )
    parser.add_argument("--no-wrk", action="store_true", help="Use the Python client.")
    return parser.parse_args()


def setup_django(args: argparse.Namespace) -> None:
    args.var = str(Path(args.var).resolve())  # the server's cache path must be absolute
    Path(args.var).mkdir(parents=True, exist_ok=True)
    os.environ["RAPPORT_VAR_DIR"] = args.var
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()


def generate(n: int) -> None:
    from django.core.management import call_command
    from django.db import transaction
    from faker import Faker

    from rapport.customers.models import (
        Customer,
        CustomerTag,
        EmailAddress,
        PhoneNumber,
        Tag,
    )

    call_command("migrate", verbosity=0, interactive=False)
    have = Customer.objects.filter(kind="person").count()
    if have >= n:
        print(f"Reusing {have:,} persons.")
        analyze()
        return
    fake = Faker()
    Faker.seed(42)
    rng = random.Random(42)
    tags = [
        Tag.objects.get_or_create(name=name)[0] for name in ["vip", "newsletter", "b2b", "gold"]
    ]
    first_names = [fake.first_name() for _ in range(500)]
    last_names = [fake.last_name() for _ in range(1000)]
    stages = ["subscriber", "lead", "customer", "churned"]
    started = time.monotonic()
    batch = 5000
    for offset in range(have, n, batch):
        size = min(batch, n - offset)
        with transaction.atomic():
            rows = []
            for i in range(offset, offset + size):
                first, last = rng.choice(first_names), rng.choice(last_names)
                email = f"{first}.{last}.{i}@example.com".lower()
                phone = f"+1202{i % 10_000_000:07d}"
                rows.append(
                    Customer(
                        kind="person",
                        first_name=first,
                        last_name=last,
                        display_name=f"{first} {last}",
                        lifecycle_stage=rng.choice(stages),
                        primary_email=email,
                        primary_phone=phone,
                        external_id=f"bench-{i}",
                        search_text=f"{first} {last} {email}".lower(),
                    )
                )
            created = Customer.objects.bulk_create(rows, batch_size=1000)
            if not all(c.pk for c in created):  # SQLite < 3.35 gives no ids back
                created = list(
                    Customer.objects.filter(external_id__in=[c.external_id for c in rows]).order_by(
                        "id"
                    )
                )
            EmailAddress.objects.bulk_create(
                [EmailAddress(customer=c, email=c.primary_email, is_primary=True) for c in created],
                batch_size=2000,
            )
            PhoneNumber.objects.bulk_create(
                [PhoneNumber(customer=c, e164=c.primary_phone, is_primary=True) for c in created],
                batch_size=2000,
            )
            CustomerTag.objects.bulk_create(
                [
                    CustomerTag(customer=c, tag=t)
                    for c in created
                    for t in rng.sample(tags, rng.randint(0, 2))
                ],
                batch_size=2000,
            )
        done = offset + size
        print(f"\r  generated {done:,}/{n:,} persons", end="", flush=True)
    print(f"\nGenerated in {time.monotonic() - started:.1f} s.")
    analyze()


def analyze() -> None:
    """Planner statistics, as a live database has them (autovacuum, `PRAGMA optimize`):
    right after a bulk load the planner guesses row counts and picks poor plans."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def api_key() -> str:
    from rapport.identity.models import ApiKey, User

    user = User.objects.filter(email="bench-api@example.com").first()
    if user is None:
        user = User.objects.create_superuser("bench-api@example.com", "bench-password-123")
    raw, prefix, key_hash = ApiKey.generate()
    ApiKey.objects.create(
        user=user,
        name="benchmark",
        prefix=prefix,
        key_hash=key_hash,
        scopes=["customers.customer:read"],
    )
    return raw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        # A limit no benchmark reaches: we measure the API, not the 429 path.
        "RATELIMIT_API_PER_KEY": "10000000/m",
    }
    if args.server == "rapport":
        # What production runs: `rapport serve` (granian, WSGI, blocking threads).
        command = [
            str(ROOT / ".venv" / "bin" / "rapport"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--task-workers",
            "0",
        ]
    else:
        # For comparison: the ASGI entry point under uvicorn.
        command = [
            str(ROOT / ".venv" / "bin" / "uvicorn"),
            "rapport.config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise SystemExit("The server did not start within 60 s.")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by every process in the server's group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after ")": state, ppid, pgrp, …
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def cursors(port: int, key: str, how_many: int) -> list[str]:
    """Real cursors spread over the table (follow next_cursor with large pages)."""
    found: list[str] = []
    cursor = ""
    while len(found) < how_many:
        url = f"http://127.0.0.1:{port}/api/v1/persons?limit=200" + (
            f"&cursor={cursor}" if cursor else ""
        )
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.loads(response.read())
        cursor = page["next_cursor"]
        if not cursor:
            break
        found.append(cursor)
        # Jump ahead: skip pages so the cursors cover the whole table.
        for _ in range(4):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/persons?limit=200&cursor={cursor}",
                headers={"Authorization": f"Bearer {key}"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                cursor = json.loads(response.read())["next_cursor"] or ""
            if not cursor:
                break
        if not cursor:
            break
    return found


WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  local path = paths[(counter %% #paths) + 1]
  return wrk.format("GET", path, {["Authorization"] = "Bearer %(key)s"})
end
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%%d duration_us=%%d errors=%%d non2xx=%%d p50=%%d p95=%%d p99=%%d max=%%d\\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def run_wrk(args: argparse.Namespace, port: int, key: str, paths: list[str]) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="rapport-wrk-"))
    (workdir / "paths.txt").write_text("\n".join(paths) + "\n")
    script = workdir / "persons.lua"
    script.write_text(WRK_SCRIPT % {"paths": workdir / "paths.txt", "key": key})
    output = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(args.connections),
            "-d",
            f"{args.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shutil.rmtree(workdir, ignore_errors=True)
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    values = dict(part.split("=") for part in line.split()[1:])
    seconds = int(values["duration_us"]) / 1e6
    return {
        "requests": int(values["requests"]),
        "rps": int(values["requests"]) / seconds,
        "errors": int(values["errors"]) + int(values["non2xx"]),
        "p50_ms": int(values["p50"]) / 1000,
        "p95_ms": int(values["p95"]) / 1000,
        "p99_ms": int(values["p99"]) / 1000,
        "max_ms": int(values["max"]) / 1000,
    }


def run_python(args: argparse.Namespace, port: int, key: str, paths: list[str]) -> dict[str, float]:
    """A bounded thread client (keep-alive) for machines without wrk."""
    import http.client

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + args.duration

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = offset
        local: list[float] = []
        while time.monotonic() < stop_at:
            i += 1
            started = time.perf_counter()
            conn.request("GET", paths[i % len(paths)], headers={"Authorization": f"Bearer {key}"})
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(local)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n * 97,)) for n in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "errors": errors[0],
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    setup_django(args)
    from django.db import connection

    generate(args.customers)
    key = api_key()
    vendor = connection.vendor
    connection.close()
    port = free_port()
    proc = start_server(args, port)
    try:
        found = cursors(port, key, 200)
        paths = ["/api/v1/persons"] + [f"/api/v1/persons?cursor={c}" for c in found]
        # Filtered pages too: an indexed filter and a sort other than the default.
        paths += ["/api/v1/persons?lifecycle_stage=customer", "/api/v1/persons?sort=-created_at"]
        # Warm up every process (imports, connections, caches) before measuring.
        warm = argparse.Namespace(**{**vars(args), "duration": 3})
        runner = run_python if args.no_wrk or not shutil.which("wrk") else run_wrk
        runner(warm, port, key, paths)
        cpu_before = group_cpu_seconds(proc.pid)
        result = runner(args, port, key, paths)
        server_cpu = group_cpu_seconds(proc.pid) - cpu_before
        # The floor: the cheapest request the server answers (a health check, one query),
        # to tell a slow endpoint from a machine that is busy with other work.
        short = argparse.Namespace(**{**vars(args), "duration": 5})
        floor = runner(short, port, key, ["/healthz"])
    finally:
        stop(proc)
    tool = "python-threads" if runner is run_python else "wrk"
    print(
        f"GET /api/v1/persons (50/page) | {args.customers:,} persons on {vendor} | "
        f"{args.server} x{args.workers} workers | {tool}, {args.connections} connections, "
        f"{args.duration}s | {len(paths)} distinct pages"
    )
    print(
        f"  {result['rps']:.0f} requests/s, {result['requests']:,} requests, "
        f"{result['errors']} errors | p50 {result['p50_ms']:.1f} ms, "
        f"p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"max {result['max_ms']:.1f} ms"
    )
    print(
        f"  for comparison, GET /healthz on the same server: {floor['rps']:.0f} requests/s, "
        f"p95 {floor['p95_ms']:.1f} ms"
    )
    per_request = server_cpu * 1000 / max(result["requests"], 1)
    print(
        f"  server CPU {per_request:.2f} ms per request "
        f"(≈ {2000 / per_request:.0f} requests/s if the server had both cores to itself)"
    )
    with open("/proc/loadavg") as f:
        print(f"  load average during the run: {f.read().split()[0]} (other work shares the CPUs)")
    ok = result["rps"] >= 400 and result["p95_ms"] < 100 and result["errors"] == 0
    print("  target (>= 400 req/s, p95 < 100 ms):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
