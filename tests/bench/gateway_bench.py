"""The gateway under load, on the real local broker, with a real HTTP client.

``python -m tests.bench.gateway_bench [--seconds S] [--rate R] [--concurrency C]``:

* throughput: the gateway pinned to one core (``taskset``), C connections posting signed
  Zendesk ``ticket.comment_added`` deliveries back to back for S seconds; deliveries/s answered
  200 (each acknowledged by Kafka before its answer);
* latency at a fixed rate: R deliveries a second, sent on schedule whatever the answers (an
  open loop: a slow answer does not slow the senders), for S seconds; p50/p99/max from send
  to answer, and how many were not answered 200.

The client runs in this process (aiohttp) on the other core.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from service.gateway.zendesk import signed_headers
from tests.integration.kafka_broker import REPO_ROOT, create_topics, ensure_broker
from tests.integration.worker_process import SLA_TIMER, free_port

SECRET = "bench-secret"
SOURCES = "sources:\n  - {name: zd, kind: zendesk, tenant: bench, secret_env: BENCH_SECRET}\n"


def delivery(number: int) -> tuple[bytes, dict[str, str]]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    payload = {
        "id": f"bench-{number}-{time.time_ns()}",
        "time": now,
        "type": "zen:event-type:ticket.comment_added",
        "subject": f"zen:ticket:{number % 5000}",
        "detail": {
            "id": str(number % 5000),
            "created_at": "2026-11-30T08:00:00Z",
            "updated_at": now,
            "status": "OPEN",
            "priority": "NORMAL",
        },
        "event": {
            "comment": {
                "id": str(number),
                "is_public": True,
                "author": {"id": "7", "is_staff": number % 2 == 0},
            }
        },
    }
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", **signed_headers(SECRET, now, body)}


def start_gateway(bootstrap: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    name = f"gwbench{os.getpid()}"
    create_topics(bootstrap, {f"{name}-ticket-events": 4, f"{name}-ticket-events-dlq": 1})
    (work / "sources.yaml").write_text(SOURCES)
    port = free_port()
    env = {
        **os.environ,
        "SLA_KAFKA_BROKERS": bootstrap,
        "SLA_GATEWAY_PORT": str(port),
        "SLA_GATEWAY_SOURCES": str(work / "sources.yaml"),
        "SLA_INPUT_TOPICS": f"{name}-ticket-events",
        "SLA_OUTPUT_PREFIX": f"{name}-",
        "BENCH_SECRET": SECRET,
    }
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    log = (work / "gateway.log").open("ab")
    process = subprocess.Popen(
        [*pin, str(SLA_TIMER), "gateway"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the gateway did not become ready: {(work / 'gateway.log').read_text()}")


async def throughput(url: str, seconds: float, concurrency: int) -> tuple[int, int]:
    ok = failed = 0
    end = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal ok, failed
        while time.monotonic() < end:
            body, headers = delivery(next(counter))
            async with session.post(f"{url}/hooks/zd", data=body, headers=headers) as reply:
                await reply.read()
                ok, failed = (ok + 1, failed) if reply.status == 200 else (ok, failed + 1)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return ok, failed


async def fixed_rate(url: str, seconds: float, rate: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    failed = 0
    prepared = [delivery(n) for n in range(int(seconds * rate))]  # signing is not measured

    async def one(session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]) -> None:
        nonlocal failed
        sent = time.perf_counter()
        async with session.post(f"{url}/hooks/zd", data=body, headers=headers) as reply:
            await reply.read()
            if reply.status == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                failed += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start, tasks = time.perf_counter(), []
        for number, (body, headers) in enumerate(prepared):
            await asyncio.sleep(max(0.0, start + number / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(session, body, headers)))
        await asyncio.gather(*tasks)
    return latencies, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    bootstrap = ensure_broker()
    with tempfile.TemporaryDirectory() as work:
        process, url = start_gateway(bootstrap, Path(work))
        try:
            asyncio.run(throughput(url, 2.0, args.concurrency))  # warm up
            ok, failed = asyncio.run(throughput(url, args.seconds, args.concurrency))
            print(
                f"gateway throughput (one core, {args.concurrency} connections, "
                f"{args.seconds:.0f} s): {ok / args.seconds:,.0f} deliveries/s answered 200 "
                f"after Kafka's ack ({failed} not 200)"
            )
            latencies, failed = asyncio.run(fixed_rate(url, args.seconds, args.rate))
            latencies.sort()
            cut = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
            print(
                f"gateway latency at {args.rate:,.0f} deliveries/s for {args.seconds:.0f} s: "
                f"p50 {cut[49] * 1000:.1f} ms, p99 {cut[98] * 1000:.1f} ms, "
                f"max {latencies[-1] * 1000:.1f} ms ({len(latencies)} answered 200, "
                f"{failed} not)"
            )
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
