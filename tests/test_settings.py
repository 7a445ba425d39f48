"""Worker configuration (SPEC §7): every variable documented, bad values refused together."""

from pathlib import Path

import pytest

from service.core.errors import SlaTimerError
from service.settings import VARIABLES, Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


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


def test_the_stall_timeout_is_a_positive_duration() -> None:
    assert Settings.from_env({}).stall_timeout == 30_000_000
    assert Settings.from_env({"SLA_STALL_TIMEOUT": "3s"}).stall_timeout == 3_000_000
    for bad in ("0s", "soon", "2d"):
        with pytest.raises(SlaTimerError, match="SLA_STALL_TIMEOUT"):
            Settings.from_env({"SLA_STALL_TIMEOUT": bad})
