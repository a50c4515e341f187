"""Benchmark: storefront event ingestion through the real API (`POST /api/v1/events`).

Generates N customers (reusing api_persons' generator), starts `rapport serve` on a free
port, and has C client threads send batches of 1,000 events (page views of anonymous
visitors, product views and cart updates of known customers by external id, a few logins
that stitch visitors) as fast as the server answers. Prints events/s and the latency of a
batch (p50/p95), then sends the same batches again (all duplicates) and prints that rate.

    .venv/bin/python benchmarks/marketing_events.py --customers 20000 --batches 40

Target (issue 15): >= 5,000 events/s on a 2-core machine. The database lives under --var
(default var/bench-events/); pass --database-url for PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import api_persons  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=40, help="Batches to send in all.")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads.")
    parser.add_argument("--workers", type=int, default=2, help="Web server processes.")
    parser.add_argument("--threads", type=int, default=2, help="Threads per web process.")
    parser.add_argument("--var", default=str(ROOT / "var" / "bench-events"))
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    args.server = "rapport"
    return args


def events_key() -> str:
    from rapport.identity.models import ApiKey, User

    user = User.objects.filter(email="bench-api@example.com").first()
    if user is None:
        user = User.objects.create_superuser("bench-api@example.com", "bench-password-123")
    raw, prefix, key_hash = ApiKey.generate()
    ApiKey.objects.create(
        user=user,
        name="events",
        prefix=prefix,
        key_hash=key_hash,
        scopes=["marketing.webevent:write"],
    )
    return raw


def make_batches(args: argparse.Namespace) -> list[bytes]:
    rng = random.Random(15)
    now = dt.datetime.now(dt.UTC)
    batches = []
    for _ in range(args.batches):
        events: list[dict[str, Any]] = []
        for _ in range(args.batch_size):
            roll = rng.random()
            when = (now - dt.timedelta(seconds=rng.randint(1, 86_400))).isoformat()
            base = {"idempotency_key": str(uuid.uuid4()), "occurred_at": when}
            visitor = f"v{rng.randint(1, 200_000)}"
            if roll < 0.7:
                events.append(
                    {
                        **base,
                        "type": "page_view",
                        "visitor_id": visitor,
                        "url": "https://shop.example.com/",
                    }
                )
            else:
                who = {"external_id": f"bench-{rng.randrange(args.customers)}"}
                kind = "product_view" if roll < 0.9 else "cart_updated"
                if roll > 0.995:
                    kind = "login"
                events.append(
                    {
                        **base,
                        "type": kind,
                        "visitor_id": visitor,
                        "customer": who,
                        "product_sku": f"SKU-{rng.randint(1, 500)}",
                    }
                )
        batches.append(json.dumps({"events": events}).encode())
    return batches


def send(
    port: int, key: str, batches: list[bytes], clients: int
) -> tuple[float, list[float], dict]:
    latencies: list[float] = []
    totals = {"accepted": 0, "duplicate": 0, "failed": 0}
    lock = threading.Lock()
    queue = list(batches)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/events",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                for name in totals:
                    totals[name] += answer[name]

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, totals


def report(label: str, seconds: float, latencies: list[float], totals: dict, events: int) -> None:
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) > 1 else latencies[0]
    print(
        f"{label}: {events:,} events in {seconds:.1f} s = {events / seconds:,.0f} events/s; "
        f"batch p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
        f"{totals}"
    )


def main() -> None:
    args = parse_args()
    api_persons.setup_django(args)
    api_persons.generate(args.customers)
    key = events_key()
    batches = make_batches(args)
    port = api_persons.free_port()
    proc = api_persons.start_server(args, port)
    try:
        events = args.batches * args.batch_size
        print(
            f"Sending {events:,} events in batches of {args.batch_size} with {args.clients} "
            f"clients to {args.workers}x{args.threads} server workers…"
        )
        report("first send", *send(port, key, batches, args.clients), events)
        report("retried (duplicates)", *send(port, key, batches, args.clients), events)
    finally:
        api_persons.stop(proc)


if __name__ == "__main__":
    main()
