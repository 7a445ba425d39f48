"""SLA_HTTP_TOKEN on a real worker: /tickets needs the bearer token, probes and scrapes do not."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def status(worker: WorkerProcess, path: str, token: str | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{worker.port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        if error.code == 401:
            assert "Bearer" in error.headers.get("WWW-Authenticate", "")
            assert "SLA_HTTP_TOKEN" in json.loads(error.read())["error"]
        return int(error.code)


def test_the_ticket_api_answers_only_the_bearer_of_the_token(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(policy_dir, tmp_path / "data", extra_env={"SLA_HTTP_TOKEN": "t0ken"})
    worker.start()
    try:
        assert status(worker, "/tickets/default/X") == 401
        assert status(worker, "/tickets/default/X", token="wrong") == 401
        assert status(worker, "/tickets/default/X", token="t0ken") == 404  # allowed; none yet
        for open_path in ("/healthz", "/readyz", "/metrics"):
            assert status(worker, open_path) == 200
    finally:
        worker.stop()
