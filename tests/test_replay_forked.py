"""``sla-timer replay --workers N``: the lines as they go to the workers (bytes or text of
any kind), and a worker that dies in the middle of a long file or while sending its SLA events
back."""

import io
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import service.replay
import service.wire.codec
from service.policyfile import load_policies
from service.replay import ReplayFailed, run_replay
from service.wire import parse_timestamp
from tests.bench.generate import stream
from tests.test_replay_hostile import deadline

POLICIES = load_policies(Path(__file__).parents[1] / "deploy" / "policies")


def events(tickets: int, count: int, seed: int = 0) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream(tickets, count, late_share=0.2, seed=seed)]


def odd_lines() -> list[str | bytes]:
    """Generated lines as bytes and as text, with byte-order marks on both, a lone
    surrogate, a line not UTF-8, lines that are not JSON, blank lines and a bad time."""
    lines: list[str | bytes] = []
    for number, event in enumerate(events(60, 1500)):
        text = json.dumps(event, ensure_ascii=number % 3 == 0)
        lines.append(text.encode() if number % 2 else text + "\n")
        if number == 10:
            lines.append("\ufeff" + text)
        if number == 11:
            lines.append(b"\xef\xbb\xbf" + text.encode())
        if number == 300:
            lines.append(text.replace(event["ticket_id"], "T-\ud800"))
        if number == 400:
            lines.append(b'{"ticket_id": "T-\xff", "occurred_at": "2026-01-05T00:00:00Z"}')
        if number == 500:
            lines += ["  \n", b"\n", "not json", b"[1, 2]"]
        if number == 600:
            lines.append(json.dumps({**event, "occurred_at": "2026-01-05T25:00:00Z"}))
    return lines


@pytest.mark.parametrize("until", [None, parse_timestamp("2027-01-01T00:00:00Z")])
def test_lines_of_any_kind_replay_the_same_on_any_number_of_workers(until: int | None) -> None:
    lines = odd_lines()
    outputs = []
    for workers in (1, 2, 3):
        out, err = io.StringIO(), io.StringIO()
        summary = run_replay(POLICIES, lines, until, out, err, workers=workers)
        outputs.append((out.getvalue(), err.getvalue(), summary.describe()))
    assert outputs[0] == outputs[1] == outputs[2]
    assert "lone surrogate" in outputs[0][1]
    assert "not UTF-8" in outputs[0][1]


def dies_on(marker: bytes, die: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    real = service.wire.codec.decode

    def dying(text: str | bytes) -> object:  # runs in the forked workers only
        if marker in (text if isinstance(text, bytes) else text.encode()):
            die()
        return real(text)

    monkeypatch.setattr(service.wire.codec, "decode", dying)


def test_a_worker_that_dies_in_the_middle_of_a_long_file_ends_the_run_promptly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Far more lines than the pipes hold: the reader is still sending when the worker dies,
    and must not wait on a pipe that one of the other workers keeps open."""
    lines = [json.dumps(event).encode() for event in events(2000, 30_000)]
    victim = json.loads(lines[3000])["ticket_id"]
    dies_on(f'"{victim}"'.encode(), lambda: os.kill(os.getpid(), signal.SIGKILL), monkeypatch)
    lines = lines[:3000] + lines[3000:] * 4  # and many more after it
    out = io.StringIO()
    started = time.monotonic()
    with deadline(60), pytest.raises(ReplayFailed, match="killed by signal SIGKILL before"):
        run_replay(POLICIES, lines, None, out, io.StringIO(), workers=3)
    assert time.monotonic() - started < 30
    assert out.getvalue() == ""


def test_a_worker_that_dies_while_sending_its_sla_events_writes_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = [json.dumps(event) for event in events(100, 2000)]
    monkeypatch.setattr(service.replay, "_OUTPUTS", 10)
    real = service.replay.Shard.finish

    class Dying(list[service.replay.Output]):
        def __getitem__(self, index: Any) -> Any:
            if isinstance(index, slice) and index.start >= 30:
                os._exit(9)  # after three messages of SLA events
            return super().__getitem__(index)

    def finish(self: service.replay.Shard, *args: Any) -> Any:
        summary, outputs = real(self, *args)
        return summary, Dying(outputs)

    monkeypatch.setattr(service.replay.Shard, "finish", finish)
    out = io.StringIO()
    with pytest.raises(ReplayFailed, match="exited with status 9 before finishing"):
        run_replay(POLICIES, lines, None, out, io.StringIO(), workers=2)
    assert out.getvalue() == ""
