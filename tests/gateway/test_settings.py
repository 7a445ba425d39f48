"""The gateway's configuration: every variable documented, bad values refused together."""

from pathlib import Path

import pytest

from service.core.errors import SlaTimerError
from service.gateway.main import VARIABLES, GatewaySettings

DOCS = (Path(__file__).parents[2] / "docs" / "gateway.md").read_text()
SOURCES = "sources:\n  - {name: desk, kind: zendesk, tenant: acme, secret_env: DESK_SECRET}\n"


@pytest.mark.parametrize("name", sorted(n for n in VARIABLES if not n.startswith("SLA_KAFKA_")))
def test_every_variable_is_in_the_gateway_docs(name: str) -> None:
    assert f"`{name}`" in DOCS


def test_defaults_and_the_topics_the_events_and_dead_letters_go_to(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SOURCES)
    env = {"SLA_GATEWAY_SOURCES": str(tmp_path / "s.yaml"), "DESK_SECRET": "s3cr3t-value"}
    settings = GatewaySettings.from_env(
        {**env, "SLA_INPUT_TOPICS": "events-a, events-b", "SLA_OUTPUT_PREFIX": "acme."}
    )
    assert (settings.host, settings.port, settings.max_body) == ("127.0.0.1", 8080, 1048576)
    assert settings.kafka_timeout == 5.0
    assert settings.events_topic == "events-a"
    assert settings.dead_letter_topic == "acme.ticket-events-dlq"
    assert settings.sources.secrets == {"desk": "s3cr3t-value"}
    assert "s3cr3t-value" not in repr(settings)


def test_every_problem_is_reported_at_once_the_sources_file_included(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SOURCES)
    with pytest.raises(SlaTimerError) as error:
        GatewaySettings.from_env(
            {
                "SLA_GATEWAY_SOURCES": str(tmp_path / "s.yaml"),
                "SLA_GATEWAY_PORT": "0",
                "SLA_GATEWAY_MAX_BODY": "lots",
                "SLA_GATEWAY_KAFKA_TIMEOUT": "2m",
                "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            }
        )
    message = str(error.value)
    for expected in (
        "SLA_GATEWAY_PORT='0'",
        "SLA_GATEWAY_MAX_BODY='lots'",
        "SLA_GATEWAY_KAFKA_TIMEOUT='2m'",
        "SLA_KAFKA_SASL_MECHANISM",
        "DESK_SECRET is not set",
    ):
        assert expected in message
