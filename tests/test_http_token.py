"""SLA_HTTP_TOKEN (docs/worker.md): who may read the ticket API."""

from service.worker.http import is_authorized


def test_without_a_token_the_ticket_api_is_open() -> None:
    assert is_authorized(None, "")
    assert is_authorized("Bearer anything", "")


def test_with_a_token_only_its_bearer_may_read_tickets() -> None:
    token = "s3cret-token"
    assert is_authorized("Bearer s3cret-token", token)
    assert is_authorized("bearer s3cret-token", token)  # the scheme is case-insensitive
    assert not is_authorized(None, token)
    assert not is_authorized("", token)
    assert not is_authorized("Bearer s3cret-toke", token)
    assert not is_authorized("Bearer s3cret-token-and-more", token)
    assert not is_authorized("Basic s3cret-token", token)
    assert not is_authorized("s3cret-token", token)
