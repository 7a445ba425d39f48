"""``sla-timer replay`` on hostile files: a bad line never costs another line's output.

Each hostile file is a clean generated history with bad lines mixed in. Bad lines that carry a
valid-looking time are dated no later than the line before them, so they cannot move the
replay clock: the good lines' output must then be byte for byte what the clean file gives,
every bad line must be named with its number, and nothing may print a traceback. A worker
process that dies must end the run promptly with an error naming it.
"""

import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

import service.replay
import service.wire.codec
from service.cli import main
from service.core.events import SlaEvent
from tests.bench.generate import stream

POLICIES = str(Path(__file__).parents[1] / "deploy" / "policies")
GOOD = list(stream(tickets=120, events=900, late_share=0.05))
FIRST_AT = json.loads(GOOD[0])["occurred_at"]


def created(ticket: str, at: str = FIRST_AT, **attributes: object) -> bytes:
    body = {"event_id": f"{ticket}-c", "type": "ticket_created", "ticket_id": ticket}
    return json.dumps({**body, "occurred_at": at, "attributes": attributes}).encode()


# (bad line, what its report must say); a line's size counts its newline, as it always has
HOSTILE: list[tuple[bytes, str]] = [
    (created("H-1", n=2**64), "attributes.n: integer out of range"),
    (created("H-2", n=-(10**30)), "attributes.n: integer out of range"),
    (created("Y-1", at="0001-01-01T00:00:00Z"), "occurred_at: '0001-01-01T00:00:00Z' is outside"),
    (created("Y-9", at="9999-12-31T23:59:59Z"), "occurred_at: '9999-12-31T23:59:59Z' is outside"),
    (created("U-1").replace(b'"U-1"', b'"U-\xff\xfe"'), "not UTF-8: invalid byte 0xff"),
    (created("U-2").replace(b'"U-2"', b'"\\ud800"'), "not JSON"),
    (b"\x00" * 64, "not JSON"),
    (created("N-1").replace(b'"N-1"', b'"N\\u0000-1"'), "ticket_id: control characters"),
    (b'{"a":"' + b"x" * 10_000_000 + b'"}', "message of 10000009 bytes is over the limit"),
    (b"[" * 100_000, "message of 100001 bytes is over the limit"),
    (b"[" * 10_000, "not JSON"),
    (created("S-1", s="x" * 5000), "attributes.s: 5000 characters, over the limit of 4096"),
]


def hostile_file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """The clean history with a byte-order mark on line 1 and the bad lines spread through;
    returns the file and the expected report of each bad line by number."""
    good = [line.encode() for line in GOOD]
    good[0] = b"\xef\xbb\xbf" + good[0]
    step = len(GOOD) // (len(HOSTILE) + 1)
    lines: list[bytes] = []
    expected: dict[int, str] = {}
    for index, line in enumerate(good):
        if index and index % step == 0 and index // step <= len(HOSTILE):
            bad, report = HOSTILE[index // step - 1]
            lines.append(bad)
            expected[len(lines)] = report
        lines.append(line)
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, expected


def clean_file(tmp_path: Path) -> Path:
    path = tmp_path / "clean.jsonl"
    path.write_text("".join(line + "\n" for line in GOOD), encoding="utf-8")
    return path


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail, rather than hang, when the block runs longer than ``seconds``."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def replay(path: Path, workers: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with deadline(60):  # a replay that hangs fails the test instead
        code = main(["replay", "--policies", POLICIES, "--workers", str(workers), str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("workers", [1, 3])
def test_hostile_lines_are_each_reported_and_cost_no_good_line_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: int
) -> None:
    _, clean_out, clean_err = replay(clean_file(tmp_path), 1, capsys)
    path, expected = hostile_file(tmp_path)
    code, out, err = replay(path, workers, capsys)
    assert code == 1
    assert out == clean_out and out
    reported = dict(re.findall(r"^line (\d+): (.*)$", err, re.MULTILINE))
    assert sorted(int(n) for n in reported) == sorted(expected)
    for number, report in expected.items():
        assert reported[str(number)].startswith(report), (number, reported[str(number)])
    assert "Traceback" not in err
    summary = clean_err.splitlines()[-1].replace("(0 invalid)", f"({len(HOSTILE)} invalid)")
    assert err.splitlines()[-1] == summary


def test_a_file_that_is_not_utf8_on_one_line_replays_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.jsonl"
    good = [line.encode() for line in GOOD[:50]]
    path.write_bytes(b"\n".join([*good[:10], "caf\xe9".encode("latin-1"), *good[10:]]) + b"\n")
    code, _, err = replay(path, 1, capsys)
    assert code == 1
    assert "line 11: not UTF-8: invalid byte 0xe9 at offset 3" in err
    assert "replayed 50 events (1 invalid)" in err


@pytest.mark.parametrize("workers", [1, 2])
def test_an_exception_while_decoding_a_line_is_that_lines_internal_error(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    workers: int,
) -> None:
    lines = [line.encode() for line in GOOD[:300]]
    victim = json.loads(lines[5])
    # The reference: line 6 invalid, but with its time, which moves the clock all the same.
    reference = lines.copy()
    reference[5] = json.dumps({"type": "nope", "occurred_at": victim["occurred_at"]}).encode()
    (tmp_path / "reference.jsonl").write_bytes(b"\n".join(reference) + b"\n")
    _, reference_out, _ = replay(tmp_path / "reference.jsonl", 1, capsys)
    real = service.wire.codec.decode

    def failing(text: str | bytes) -> object:
        if json.loads(text)["event_id"] == victim["event_id"]:
            raise RuntimeError("boom")
        return real(text)

    monkeypatch.setattr(service.wire.codec, "decode", failing)
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    code, out, err = replay(tmp_path / "events.jsonl", workers, capsys)
    assert code == 1
    assert out == reference_out
    assert "line 6: internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("workers", [1, 2])
def test_an_sla_event_that_cannot_be_encoded_costs_no_other_ticket_its_output(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    workers: int,
) -> None:
    path = clean_file(tmp_path)
    _, clean_out, _ = replay(path, 1, capsys)
    # A ticket whose creation starts two clocks: its line yields two events that fail.
    started = Counter(
        (event["ticket_id"], event["occurred_at"])
        for event in map(json.loads, clean_out.splitlines())
        if event["type"] == "sla.started"
    )
    victim = next(ticket for (ticket, _), count in started.items() if count >= 2)
    number = 1 + next(i for i, line in enumerate(GOOD) if json.loads(line)["ticket_id"] == victim)
    real = service.replay.encode_json

    def failing(event: SlaEvent, emitted_at: int) -> bytes:
        if event.ticket_id == victim:
            raise TypeError("Integer exceeds 64-bit range")
        return real(event, emitted_at)

    monkeypatch.setattr(service.replay, "encode_json", failing)
    code, out, err = replay(path, workers, capsys)
    assert code == 1
    others = [line for line in clean_out.splitlines() if json.loads(line)["ticket_id"] != victim]
    assert out.splitlines() == others
    assert f"line {number}: internal error: TypeError: Integer exceeds 64-bit range" in err
    numbers = re.findall(r"^line (\d+):", err, re.MULTILINE)
    assert len(numbers) == len(set(numbers))  # a line is reported, and counted, once
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("die", "how"),
    [
        (lambda: os._exit(7), "exited with status 7"),
        (lambda: os.kill(os.getpid(), signal.SIGKILL), "was killed by signal SIGKILL"),
    ],
)
def test_a_worker_that_dies_ends_the_run_promptly_with_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    die: Callable[[], None],
    how: str,
) -> None:
    real = service.wire.codec.decode

    def dying(text: str | bytes) -> object:  # runs in the forked workers only
        if b"T-7-" in (text if isinstance(text, bytes) else text.encode()):
            die()
        return real(text)

    monkeypatch.setattr(service.wire.codec, "decode", dying)
    path = clean_file(tmp_path)
    started = time.monotonic()
    code, out, err = replay(path, 2, capsys)
    assert time.monotonic() - started < 20
    assert code == 3
    assert out == ""
    assert re.search(
        rf"^sla-timer replay: replay worker [12] of 2 \(pid \d+\) {how} before finishing; "
        r"no SLA events were written$",
        err,
        re.MULTILINE,
    ), err
