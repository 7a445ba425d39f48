"""Every exception the service defines derives from SlaTimerError, as the tree in
service/core/errors.py draws it, except the two it names as not errors of the service."""

import importlib
import inspect
import pkgutil

import service
from service.core import errors
from service.core.errors import SlaTimerError

NOT_ERRORS = {"FlushStopped", "PolicyYamlError"}


def defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(service.__path__, "service."):
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.name
            ):
                found[name] = value
    return found


def test_every_exception_of_the_service_is_a_sla_timer_error_and_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    found = defined_exceptions()
    assert set(found) >= {"InvalidPolicies", "LoginRefused", "TopicError", "KafkaUnavailable"}
    for name, exception in found.items():
        if name in NOT_ERRORS:
            assert not issubclass(exception, SlaTimerError), name
            assert name in tree
            continue
        assert issubclass(exception, SlaTimerError), name
        assert name in tree, f"{name} is missing from the tree in service/core/errors.py"
