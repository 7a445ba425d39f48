"""The ``sla-timer`` command: replay, policies check, report, whatif (docs/commands.md)."""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from service.connection import Connection
from service.core.errors import InvalidPolicies, SlaTimerError
from service.policyfile import check_directory, load_policies
from service.replay import ReplayFailed, run_replay
from service.report import ReportRequest, run_report
from service.whatif import DEFAULT_FLIPS, WhatifRequest, run_whatif
from service.wire import parse_timestamp


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # e.g. `sla-timer replay ... | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sla-timer", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    replay = commands.add_parser("replay", help="run the engine over a JSON-lines file of events")
    replay.add_argument("--policies", required=True, type=Path, help="policy directory")
    replay.add_argument(
        "--until", type=_timestamp, help="move the clock to this RFC 3339 time at the end"
    )
    replay.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="processes sharing the tickets (default: CPUs, at most 4); output is the same",
    )
    replay.add_argument(
        "events", type=Path, help="JSON lines, one input event per line ('-' for stdin)"
    )
    replay.set_defaults(run=_replay)

    worker = commands.add_parser(
        "worker", help="run the streaming worker (configuration: SLA_* environment variables)"
    )
    worker.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    worker.set_defaults(run=_worker)

    demo = commands.add_parser(
        "demo", help="run a worker with short-target seed policies and print live alerts"
    )
    demo.add_argument(
        "--gateway",
        action="store_true",
        help="also run the gateway and send the tickets as signed Zendesk webhooks",
    )
    demo.set_defaults(run=_demo)

    gateway = commands.add_parser(
        "gateway",
        help="receive helpdesk webhooks and publish them as input events "
        "(configuration: SLA_GATEWAY_* and SLA_KAFKA_* environment variables)",
    )
    gateway.set_defaults(run=_gateway)

    adopt = commands.add_parser(
        "import",
        help="publish a ticket_created (and first_response) per open ticket of a helpdesk "
        "export, for tickets opened before the gateway was switched on",
    )
    adopt.add_argument(
        "--source", required=True, help="the source (SLA_GATEWAY_SOURCES) to map with"
    )
    adopt.add_argument("--format", required=True, choices=["zendesk", "jira", "csv"], dest="form")
    adopt.add_argument("--include-closed", action="store_true", help="solved and closed too")
    adopt.add_argument(
        "--created-before",
        type=_timestamp,
        help="only tickets created before this instant (RFC 3339): when the gateway started",
    )
    adopt.add_argument("--dry-run", action="store_true", help="print the events, publish nothing")
    adopt.add_argument("file", type=Path, help="the export")
    adopt.set_defaults(run=_import)

    policies = commands.add_parser("policies", help="policy files")
    policy_commands = policies.add_subparsers(title="policy commands")
    check = policy_commands.add_parser(
        "check", help="validate a policy directory, listing every problem"
    )
    check.add_argument("directory", type=Path)
    check.set_defaults(run=_check)

    report = commands.add_parser(
        "report", help="compliance per policy, metric and month from SLA events"
    )
    report.add_argument("--policies", required=True, type=Path, help="policy directory")
    report.add_argument("--html", type=Path, help="also write a self-contained HTML page here")
    report.add_argument("--topic", help="read this SLA events topic whole instead of files")
    report.add_argument(
        "--brokers",
        help="Kafka bootstrap servers for --topic (default: SLA_KAFKA_BROKERS, else "
        "127.0.0.1:9092; TLS and SASL from the SLA_KAFKA_* variables, as for the worker)",
    )
    report.add_argument(
        "files", nargs="*", help="JSON lines of SLA events (replay's output; '-' for stdin)"
    )
    report.set_defaults(run=_report)

    whatif = commands.add_parser(
        "whatif",
        help="replay events under the current and a proposed policy directory and show what "
        "would have changed: compliance per policy, metric and month, and the cycles that flip",
    )
    whatif.add_argument("--policies", required=True, type=Path, help="the current policies")
    whatif.add_argument("--proposed", required=True, type=Path, help="the proposed policies")
    whatif.add_argument(
        "--until", type=_timestamp, help="move the clock to this RFC 3339 time at the end"
    )
    whatif.add_argument("--html", type=Path, help="also write a self-contained HTML page here")
    whatif.add_argument(
        "--flips",
        type=_count,
        default=DEFAULT_FLIPS,
        help=f"flipped cycles to list, newest first (default {DEFAULT_FLIPS}); the rest counted",
    )
    whatif.add_argument(
        "--all",
        action="store_true",
        dest="every_row",
        help="print every policy, metric and month row, not only those that change",
    )
    whatif.add_argument("events", help="JSON lines, one input event per line ('-' for stdin)")
    whatif.set_defaults(run=_whatif)
    return parser


def _timestamp(text: str) -> int:
    try:
        return parse_timestamp(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (0, 1, 2, ...)")
    return number


def _replay(args: argparse.Namespace) -> int:
    try:
        policies = load_policies(args.policies)
    except InvalidPolicies as error:
        print(error, file=sys.stderr)
        return 2
    # Bytes: each line is decoded on its own, so one that is not UTF-8 is reported, not fatal.
    stream = sys.stdin.buffer if str(args.events) == "-" else args.events.open("rb")
    try:
        with stream:
            summary = run_replay(policies, stream, args.until, sys.stdout, sys.stderr, args.workers)
    except ReplayFailed as error:
        print(f"sla-timer replay: {error}", file=sys.stderr)
        return 3
    print(summary.describe(), file=sys.stderr)
    return 1 if summary.invalid else 0


def _worker(args: argparse.Namespace) -> int:
    from service.worker.main import run_worker  # noqa: PLC0415 (Faust is heavy: load it here only)

    return run_worker(os.environ, args.loglevel)


def _gateway(args: argparse.Namespace) -> int:
    from service.gateway.main import run_gateway  # noqa: PLC0415 (aiohttp, Kafka: load them here only)

    return run_gateway(os.environ)


def _import(args: argparse.Namespace) -> int:
    from service.gateway.importer import ImportRequest, run_import  # noqa: PLC0415 (Kafka)

    request = ImportRequest(
        args.source, args.form, args.file, args.include_closed, args.created_before, args.dry_run
    )
    return run_import(request, os.environ, sys.stdout, sys.stderr)


def _demo(args: argparse.Namespace) -> int:
    from service.demo import run_demo  # noqa: PLC0415 (Kafka clients: load them here only)

    return run_demo(os.environ, gateway=args.gateway)


def _report(args: argparse.Namespace) -> int:
    if bool(args.files) == bool(args.topic):
        print("sla-timer report: give either FILE arguments or --topic", file=sys.stderr)
        return 2
    try:
        kafka = Connection.from_env(os.environ, brokers=args.brokers) if args.topic else None
    except SlaTimerError as error:
        print(f"sla-timer report: {error}", file=sys.stderr)
        return 2
    request = ReportRequest(args.policies, args.files, args.topic, kafka or Connection(), args.html)
    return run_report(request, sys.stdout, sys.stderr)


def _whatif(args: argparse.Namespace) -> int:
    request = WhatifRequest(
        args.policies,
        args.proposed,
        args.events,
        args.until,
        args.html,
        args.flips,
        args.every_row,
    )
    return run_whatif(request, sys.stdout, sys.stderr)


def _check(args: argparse.Namespace) -> int:
    policies, problems = check_directory(args.directory)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        print(f"{args.directory}: {count}")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    assert policies is not None
    print(f"{args.directory}: {len(policies.policies)} policies OK")
    for policy in policies.policies:
        metrics = ", ".join(rule.metric for rule in policy.clocks)
        where = f"{policy.source}; calendar {policy.calendar.name}"
        print(f"  {policy.name} {policy.version} ({where}): {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
