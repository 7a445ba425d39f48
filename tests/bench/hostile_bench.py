"""``sla-timer replay`` on hostile files: time, peak memory, and the good lines' output intact.

Each file is a clean generated history (10,000 events) with one kind of hostile input mixed
in: the measured cases of the bounded-state issue. Each replay runs as its own process
(``sla-timer replay --workers 1``); its wall time and peak resident memory (the largest of any
replay so far: ``getrusage`` of the children) are printed against the goal (under 20 s and 400
MB), and its output is compared with the clean file's: the SLA
events of the good tickets must be byte for byte the same.

``python -m tests.bench.hostile_bench``
"""

import json
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from .generate import stream

ROOT = Path(__file__).parents[2]
SLA_TIMER = ROOT / ".venv" / "bin" / "sla-timer"
POLICIES = ROOT / "deploy" / "policies"
GOOD = [line.encode() for line in stream(tickets=1_000, events=10_000, late_share=0.01)]
FIRST = json.loads(GOOD[0])["occurred_at"]


def event(ticket: str, kind: str, at: str, number: int, **fields: object) -> bytes:
    body = {"event_id": f"{ticket}-{number}", "type": kind, "ticket_id": ticket, "occurred_at": at}
    return json.dumps({**body, "tenant": "westock", **fields}).encode()


def far_future(count: int) -> list[bytes]:
    """Tickets dated in year 9000 on a holiday calendar (once 520 MB and 13 s each)."""
    attributes = {"tier": "essential", "category": "payment"}
    return [
        event(f"Y{n}", "ticket_created", f"9000-0{n + 1}-03T10:00:00Z", 0, attributes=attributes)
        for n in range(count)
    ]


def big_integers() -> list[bytes]:
    return [event("I", "ticket_created", FIRST, 0, attributes={"n": 2**64})]


def mail_loop(replies: int) -> list[bytes]:
    """One ticket and its replies one second apart (an auto-responder loop)."""
    first = json.loads(GOOD[0])["occurred_at"].replace("Z", "+00:00")
    start = datetime.fromisoformat(first)
    lines = [event("LOOP", "ticket_created", first, 0, attributes={"tier": "essential"})]
    lines += [
        event("LOOP", "customer_reply", (start + timedelta(seconds=n)).isoformat(), n)
        for n in range(1, replies + 1)
    ]
    return lines


def late_replies(replies: int) -> list[bytes]:
    """One ticket whose replies arrive newest first: every one of them late."""
    loop = mail_loop(replies)
    return [loop[0], *reversed(loop[1:])]


def invalid_utf8() -> list[bytes]:
    return [event("U", "ticket_created", FIRST, 0).replace(b'"U-0"', b'"U-\xff"')]


CASES: dict[str, Callable[[], list[bytes]]] = {
    "six tickets dated in year 9000": lambda: far_future(6),
    "integers beyond 64 bits": big_integers,
    "invalid UTF-8": invalid_utf8,
    "a mail loop of 25,000 replies": lambda: mail_loop(25_000),
    "8,000 replies delivered newest first": lambda: late_replies(8_000),
}


def replay(path: Path) -> tuple[float, int, bytes, str]:
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [str(SLA_TIMER), "replay", "--policies", str(POLICIES), "--workers", "1", str(path)],
        capture_output=True,
        check=False,
    )
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(peak, before) * 1024, done.stdout, done.stderr.decode(errors="replace")


def good_output(output: bytes, hostile: set[str]) -> list[bytes]:
    return [line for line in output.splitlines() if json.loads(line)["ticket_id"] not in hostile]


def main() -> None:
    print("hostile replay benchmark: 10,000 good events with each hostile input mixed in")
    with tempfile.TemporaryDirectory() as folder:
        clean = Path(folder) / "clean.jsonl"
        clean.write_bytes(b"\n".join(GOOD) + b"\n")
        _, _, expected, _ = replay(clean)
        for name, make in CASES.items():
            bad = make()
            tickets = {json.loads(line.decode(errors="replace"))["ticket_id"] for line in bad[:1]}
            tickets |= {"LOOP", "Y0", "Y1", "Y2", "Y3", "Y4", "Y5", "I", "U"}
            path = Path(folder) / "hostile.jsonl"
            step = max(1, len(GOOD) // (len(bad) + 1))
            lines = [*GOOD[:step], *bad, *GOOD[step:]]
            path.write_bytes(b"\n".join(lines) + b"\n")
            took, peak, output, errors = replay(path)
            intact = good_output(output, tickets) == good_output(expected, tickets)
            reported = sum(1 for line in errors.splitlines() if line.startswith("line "))
            print(
                f"  {name:<38} {took:>5.1f} s, peak at most {peak / 2**20:>4,.0f} MiB (goal: 20 s, "
                f"400 MiB); good lines' output {'intact' if intact else 'CHANGED'}; "
                f"{reported:,} lines reported; traceback: {'Traceback' in errors}"
            )


if __name__ == "__main__":
    main()
