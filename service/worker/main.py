"""``sla-timer worker``: configuration, policies and topics checked, then the Faust worker runs."""

import asyncio
import faulthandler
import gc
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

import faust
import uvloop

from service.core.errors import SlaTimerError
from service.handshake import check_login
from service.policyfile import load_policies
from service.settings import Settings
from service.worker.app import SlaWorker
from service.worker.topics import ensure_topics, topic_plan


def run_worker(env: Mapping[str, str], loglevel: str) -> int:
    """Refuse to start on bad configuration or policies (every problem listed), else run."""
    try:
        settings = Settings.from_env(env)
        policies = load_policies(settings.policy_dir)
        settings.create_data_dir()  # Faust would create only its last part
        created = asyncio.run(_prepare_kafka(settings))
    except SlaTimerError as error:
        print(f"sla-timer worker: {error}", file=sys.stderr)
        return 2
    if created:
        print(f"created topics: {', '.join(created)}", file=sys.stderr)
    # uvloop's event loop: when Faust still handed every message through several loop
    # iterations, uvloop made them about 15% cheaper here (the worker benchmark).
    uvloop.install()
    # The engine makes no reference cycles: collecting young objects less often made the
    # batch step 10-15% faster (worker benchmark). The older generations keep Python's
    # ratios, so cycles (Faust's, aiokafka's) are still collected: with them 100 times
    # rarer too, the worker's memory grew with the events it had processed.
    gc.set_threshold(50_000, 10, 10)
    worker = SlaWorker(settings, policies)
    for name in ("aiokafka", "faust", "mode"):  # else they build DEBUG records to discard
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(loglevel.upper())))
    _Worker(worker, worker.app, loglevel=loglevel).execute_from_commandline()
    return 0


async def _prepare_kafka(settings: Settings) -> list[str]:
    """Log in once (a refused login ends the start with a message that says so; aiokafka
    would retry it forever), then create the missing topics; return their names."""
    unreachable = await check_login(settings.kafka)
    if unreachable is not None:
        raise SlaTimerError(f"Kafka did not answer ({settings.kafka.describe()}): {unreachable}")
    return await ensure_topics(settings.kafka, topic_plan(settings), settings.replication_factor)


# Exit code of a worker that did not stop in time after SIGTERM or SIGINT.
EXIT_STOP_TIMEOUT = 3
# The process is gone SLA_SESSION_TIMEOUT + 10 s after the signal: the watchdog fires 1 s
# before, leaving time for the exit itself.
_WATCHDOG_AFTER_SESSION = 9.0


class _Worker(faust.Worker):
    """Faust's worker, plus: a stop signal tells the SLA worker (a flush waiting on Kafka
    gives up) and starts a watchdog that ends the process if it is still stopping
    SLA_SESSION_TIMEOUT + 9 s later (by then the group has moved its partitions anyway),
    so it is gone within SLA_SESSION_TIMEOUT + 10 s."""

    def __init__(self, sla_worker: SlaWorker, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sla_worker = sla_worker
        self.watchdog: threading.Timer | None = None

    def _on_sigterm(self) -> None:
        self._stop_within_deadline("SIGTERM")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._stop_within_deadline("SIGINT")
        super()._on_sigint()

    def _stop_within_deadline(self, name: str) -> None:
        self.sla_worker.stopping = True
        if self.watchdog is None:
            seconds = self.sla_worker.settings.session_timeout / 1e6 + _WATCHDOG_AFTER_SESSION
            self.watchdog = start_watchdog(seconds, name)


def start_watchdog(seconds: float, cause: str) -> threading.Timer:
    """A thread that ends the process after ``seconds`` (a stuck event loop cannot stop it)."""

    def expire() -> None:
        message = f"sla-timer worker: still running {seconds:.0f} s after {cause}: forced exit"
        try:
            logging.getLogger(__name__).critical(message)
            # where it was stuck, on file descriptor 2 (mode replaces sys.stderr)
            faulthandler.dump_traceback(file=2, all_threads=True)
        finally:
            os._exit(EXIT_STOP_TIMEOUT)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer
