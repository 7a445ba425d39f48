"""Worker configuration (docs/worker.md): every variable documented, bad values refused together."""

import os
from pathlib import Path

import pytest

from service.core.errors import SlaTimerError
from service.settings import VARIABLES, Settings
from service.worker.main import run_worker

README = (Path(__file__).parents[1] / "docs" / "worker.md").read_text()
POLICIES = Path(__file__).parents[1] / "deploy" / "policies"


def test_defaults_follow_the_spec() -> None:
    settings = Settings.from_env({})
    assert settings.brokers == "127.0.0.1:9092"
    assert settings.input_topics == ("ticket-events",)
    assert settings.web_host == "127.0.0.1"
    assert settings.grace == 0
    assert settings.dead_letter_topic == "ticket-events-dlq"


def test_prefix_applies_to_outputs_and_dead_letters() -> None:
    settings = Settings.from_env({"SLA_OUTPUT_PREFIX": "acme.", "SLA_GRACE": "30s"})
    assert settings.breaches_topic == "acme.sla-breaches"
    assert settings.dead_letter_topic == "acme.ticket-events-dlq"
    assert settings.grace == 30_000_000


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SlaTimerError) as error:
        Settings.from_env({"SLA_WEB_PORT": "http", "SLA_GRACE": "soon", "SLA_STORE": "redis"})
    message = str(error.value)
    assert "SLA_WEB_PORT='http'" in message
    assert "SLA_GRACE='soon'" in message
    assert "SLA_STORE='redis': use rocksdb or memory" in message


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_every_variable_is_in_the_readme(name: str) -> None:
    assert f"`{name}`" in README


def test_a_data_dir_that_does_not_exist_yet_is_accepted(tmp_path: Path) -> None:
    wanted = tmp_path / "state" / "worker-1"
    assert Settings.from_env({"SLA_DATA_DIR": str(wanted)}).data_dir == wanted


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("file/worker", "cannot be created: {root}/file is not a directory"),
        ("file/deeper/worker", "cannot be created: {root}/file is not a directory"),
        ("file", "exists and is not a directory"),
    ],
)
def test_a_data_dir_that_cannot_be_a_directory_is_refused_with_the_other_problems(
    tmp_path: Path, layout: str, expected: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    data_dir = str(tmp_path / layout)
    with pytest.raises(SlaTimerError) as error:
        Settings.from_env({"SLA_DATA_DIR": data_dir, "SLA_STORE": "redis"})
    message = str(error.value)
    assert f"SLA_DATA_DIR={data_dir!r}: {expected.format(root=tmp_path)}" in message
    assert "SLA_STORE='redis'" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_data_dir_under_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(SlaTimerError) as error:
        Settings.from_env({"SLA_DATA_DIR": str(tmp_path / "ro" / "worker")})
    assert f"cannot be created: {tmp_path / 'ro'} is not writable" in str(error.value)


def test_the_worker_creates_a_missing_data_dir_with_its_parents_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Faust creates only the last part of the path: a missing parent was a FileNotFoundError
    # traceback once the worker started. Stop the start right after the checks.
    async def no_broker(*args: object) -> list[str]:
        raise SlaTimerError("no broker in this test")

    monkeypatch.setattr("service.worker.main._prepare_kafka", no_broker)
    data_dir = tmp_path / "var" / "lib" / "sla-timer"
    env = {"SLA_DATA_DIR": str(data_dir), "SLA_POLICY_DIR": str(POLICIES)}
    assert run_worker(env, "info") == 2
    assert "no broker in this test" in capsys.readouterr().err
    assert data_dir.is_dir()


def test_the_stall_timeout_is_a_positive_duration() -> None:
    assert Settings.from_env({}).stall_timeout == 30_000_000
    assert Settings.from_env({"SLA_STALL_TIMEOUT": "3s"}).stall_timeout == 3_000_000
    for bad in ("0s", "soon", "-3s"):
        with pytest.raises(SlaTimerError, match="SLA_STALL_TIMEOUT"):
            Settings.from_env({"SLA_STALL_TIMEOUT": bad})
