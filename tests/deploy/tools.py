"""Outside tools the deploy tests use, installed by ``make tools`` (deploy/tools/*.sh)."""

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"


def require(binary: str, script: str) -> str:
    """The path of ``binary``; fails (never skips: CI must run these tests) when missing."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"`{binary}` is not installed: run `make tools` ({script})", pytrace=False)
    return path


def promtool() -> str:
    return require("promtool", "deploy/tools/prometheus.sh")


def prometheus() -> str:
    return require("prometheus", "deploy/tools/prometheus.sh")
