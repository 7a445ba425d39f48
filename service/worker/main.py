"""``sla-timer worker``: configuration, policies and topics checked, then the Faust worker runs."""

import asyncio
import logging
import sys
from collections.abc import Mapping

import faust
import uvloop

from service.core.errors import SlaTimerError
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
        created = asyncio.run(ensure_topics(settings.brokers, topic_plan(settings)))
    except SlaTimerError as error:
        print(f"sla-timer worker: {error}", file=sys.stderr)
        return 2
    if created:
        print(f"created topics: {', '.join(created)}", file=sys.stderr)
    # uvloop's event loop: Faust hands every message through several loop iterations, and
    # uvloop made them about 15% cheaper here (the worker benchmark).
    uvloop.install()
    worker = SlaWorker(settings, policies)
    for name in ("aiokafka", "faust", "mode"):  # else they build DEBUG records to discard
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(loglevel.upper())))
    faust.Worker(worker.app, loglevel=loglevel).execute_from_commandline()
    return 0
