"""The AsyncAPI document of the wire contract (``schemas/asyncapi.yaml``).

It must pass the official parser (``@asyncapi/parser``, installed by ``make tools``), name the
topics the worker really uses, carry examples that are the files under ``schemas/examples/``
and fit their payload schemas, and reference only schema files that mean the same under the
draft-07 schema format it declares as under the draft 2020-12 they are written in.
"""

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Specification
from referencing.jsonschema import DRAFT7, DRAFT202012

from service.settings import VARIABLES, Settings
from service.worker.topics import topic_plan

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "schemas"
DOCUMENT = SCHEMAS / "asyncapi.yaml"
VALIDATOR = ROOT / "deploy" / "tools" / "asyncapi" / "validate.mjs"
PARSER = ROOT / ".local" / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "parser"
DRAFT_07 = "application/schema+json;version=draft-07"

# Keywords that mean the same in JSON Schema draft-07 and draft 2020-12 (``$defs`` is only
# reached by JSON pointer; ``discriminator`` is an unknown keyword, an annotation, in both).
PORTABLE_KEYWORDS = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "default", "examples",
    "discriminator", "type", "enum", "const", "properties", "required", "additionalProperties",
    "patternProperties", "propertyNames", "minProperties", "maxProperties", "anyOf", "oneOf",
    "allOf", "not", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items", "minItems", "maxItems",
    "uniqueItems",
}  # fmt: skip
ANNOTATIONS = {"title", "description", "default", "examples"}


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (PARSER / "package.json").is_file():
        pytest.fail("the AsyncAPI validator (@asyncapi/parser) is not installed: run `make tools`")
    return subprocess.run(
        [node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=180, check=False
    )


document_root = document()


def local(ref: dict[str, Any]) -> Any:
    """The part of the document a ``{"$ref": "#/a/b"}`` points at."""
    target: Any = document_root
    for part in ref["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return target


def messages() -> Iterator[tuple[str, dict[str, Any]]]:
    yield from document_root["components"]["messages"].items()


def schema_files() -> list[Path]:
    return sorted((SCHEMAS / "input").glob("*.json")) + sorted((SCHEMAS / "output").glob("*.json"))


# -- the official validator ------------------------------------------------------------------


@pytest.mark.tools
def test_the_official_parser_accepts_the_document_without_errors_or_warnings() -> None:
    result = validate(DOCUMENT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "valid AsyncAPI 3.0.0" in result.stdout, output
    assert "error:" not in output and "warning:" not in output, output


def _missing_payload_file(doc: dict[str, Any]) -> None:
    doc["components"]["messages"]["DeadLetter"]["payload"]["schema"]["$ref"] = "./output/gone.json"


def _undefined_channel(doc: dict[str, Any]) -> None:
    doc["operations"]["sendSlaBreaches"]["channel"]["$ref"] = "#/channels/slaAlerts"


def _unsupported_schema_format(doc: dict[str, Any]) -> None:
    payload = doc["components"]["messages"]["TicketEvent"]["payload"]
    payload["schemaFormat"] = "application/schema+json;version=draft-2020-12"


@pytest.mark.tools
@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_missing_payload_file, "components.messages.DeadLetter.payload.schema.$ref"),
        (_undefined_channel, "'#/channels/slaAlerts' does not exist"),
        (
            _unsupported_schema_format,
            'schemaFormat "application/schema+json;version=draft-2020-12"',
        ),
    ],
    ids=[
        "payload-ref-to-missing-file",
        "operation-on-undefined-channel",
        "unchecked-schema-format",
    ],
)
def test_the_validator_fails_a_broken_copy_and_names_the_problem(
    tmp_path: Path, breakage: Any, expected: str
) -> None:
    for folder in ("input", "output"):  # the copy's relative $refs resolve as in schemas/
        shutil.copytree(SCHEMAS / folder, tmp_path / folder)
    broken = copy.deepcopy(document_root)
    breakage(broken)
    (tmp_path / "asyncapi.yaml").write_text(yaml.safe_dump(broken, sort_keys=False))
    result = validate(tmp_path / "asyncapi.yaml")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "INVALID" in result.stdout and expected in output, output


# -- the document names what the worker does -------------------------------------------------


def addresses(prefix: str) -> set[str]:
    found = set()
    for channel in document_root["channels"].values():
        address = channel["address"]
        for name, parameter in channel.get("parameters", {}).items():
            assert name == "prefix", f"unknown channel parameter {name}"
            assert local(parameter)["default"] == VARIABLES["SLA_OUTPUT_PREFIX"][0]
            address = address.replace("{prefix}", prefix)
        found.add(address)
    return found


@pytest.mark.parametrize("prefix", ["", "staging-"])
def test_channel_addresses_are_the_topics_the_worker_uses(prefix: str) -> None:
    settings = Settings.from_env({"SLA_OUTPUT_PREFIX": prefix} if prefix else {})
    assert addresses(prefix) == set(topic_plan(settings))
    assert addresses(prefix) >= {
        settings.events_topic,
        settings.warnings_topic,
        settings.breaches_topic,
        settings.dead_letter_topic,
        settings.due_topic,
        *settings.input_topics,
    }


def test_kafka_bindings_follow_the_settings_defaults() -> None:
    partitions = int(VARIABLES["SLA_PARTITIONS"][0])
    for name, channel in document_root["channels"].items():
        binding = channel["bindings"]["kafka"]
        assert (binding["partitions"], binding["replicas"]) == (partitions, 1), name
    receivers = [o for o in document_root["operations"].values() if o["action"] == "receive"]
    assert {local(o["channel"])["address"] for o in receivers} == {
        "ticket-events",
        "{prefix}sla-timer-due",
    }
    for operation in receivers:
        group = local(operation["bindings"]["kafka"]["groupId"])
        assert group["default"] == VARIABLES["SLA_APP_ID"][0]
    local_server = document_root["servers"]["local"]
    assert local_server["host"] == VARIABLES["SLA_KAFKA_BROKERS"][0]


def test_info_version_is_the_package_version() -> None:
    assert document_root["info"]["version"] == version("sla-timer")


# -- examples --------------------------------------------------------------------------------


def registry(spec: Specification[Any]) -> Registry[Any]:
    """The schema files, by file URI and by ``$id``, read as ``spec`` says."""
    resources = []
    for path in schema_files():
        contents = json.loads(path.read_text(encoding="utf-8"))
        if spec is DRAFT7:  # else jsonschema would switch to the draft the file names
            contents = {key: value for key, value in contents.items() if key != "$schema"}
        resource = spec.create_resource(contents)
        resources += [(path.as_uri(), resource), (contents["$id"], resource)]
    return Registry().with_resources(resources)


DIALECTS = {
    "draft-2020-12": (DRAFT202012, Draft202012Validator),
    "draft-07": (DRAFT7, Draft7Validator),
}


def payload_validator(message: dict[str, Any], dialect: str) -> Any:
    spec, validator = DIALECTS[dialect]
    payload = message["payload"]
    assert payload["schemaFormat"] == DRAFT_07
    # the document's base URI, so "./output/x.json" resolves to the file beside it
    schema = {"$id": DOCUMENT.as_uri(), "allOf": [payload["schema"]]}
    return validator(schema, registry=registry(spec))


JSON_MESSAGES = [name for name, m in messages() if m["contentType"] == "application/json"]


def test_examples_are_the_example_files_and_cover_them_all() -> None:
    used = set()
    for name in JSON_MESSAGES:
        examples = document_root["components"]["messages"][name]["examples"]
        assert examples, f"{name} has no example"
        for example in examples:
            source = ROOT / example["summary"]
            assert source.is_file(), f"{name}: {example['summary']} is not a file"
            assert json.loads(source.read_text(encoding="utf-8")) == example["payload"], (
                f"{name} example {example['name']} differs from {example['summary']}"
            )
            used.add(source)
    files = set((SCHEMAS / "examples" / "input").glob("*.json"))
    files |= set((SCHEMAS / "examples" / "output").glob("*.json"))
    assert sorted(files - used) == []


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", JSON_MESSAGES)
def test_each_example_fits_its_payload_schema(name: str, dialect: str) -> None:
    message = document_root["components"]["messages"][name]
    validator = payload_validator(message, dialect)
    for example in message["examples"]:
        errors = [e.message for e in validator.iter_errors(example["payload"])]
        assert errors == [], f"{name} example {example['name']} ({dialect}): {errors}"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_warning_and_breach_channels_take_only_their_type(dialect: str) -> None:
    components = document_root["components"]["messages"]
    sla_examples = [e["payload"] for e in components["SlaEvent"]["examples"]]
    assert len({e["type"] for e in sla_examples}) == 9
    for name, accepted in (("SlaWarning", "sla.warning"), ("SlaBreach", "sla.breach")):
        validator = payload_validator(components[name], dialect)
        taken = [e["type"] for e in sla_examples if validator.is_valid(e)]
        assert taken == [accepted], name


def test_input_payload_refuses_what_the_worker_dead_letters() -> None:
    validator = payload_validator(
        document_root["components"]["messages"]["TicketEvent"], "draft-07"
    )
    created = json.loads((SCHEMAS / "examples" / "input" / "ticket_created.json").read_text())
    assert validator.is_valid(created)
    assert not validator.is_valid({**created, "type": "ticket_deleted"})
    assert not validator.is_valid({**created, "occurred_at": "2026-01-13T09:30:00"})
    assert not validator.is_valid({k: v for k, v in created.items() if k != "ticket_id"})


# -- the files mean the same under the declared draft-07 --------------------------------------


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict):
        return
    yield schema
    for key in ("$defs", "properties", "patternProperties"):
        for child in schema.get(key, {}).values():
            yield from subschemas(child)
    for key in ("anyOf", "oneOf", "allOf"):
        for child in schema.get(key, []):
            yield from subschemas(child)
    for key in ("not", "items", "additionalProperties", "propertyNames"):
        yield from subschemas(schema.get(key))


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.relative_to(SCHEMAS).as_posix())
def test_schema_file_reads_the_same_as_draft_07(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft7Validator.check_schema({k: v for k, v in schema.items() if k != "$schema"})
    for node in subschemas(schema):
        assert set(node) <= PORTABLE_KEYWORDS, f"{path.name}: {set(node) - PORTABLE_KEYWORDS}"
        if "$ref" in node:  # draft-07 ignores a $ref's siblings, 2020-12 applies them
            assert set(node) - ANNOTATIONS == {"$ref"}, f"{path.name}: {node}"
        assert not isinstance(node.get("items"), list), f"{path.name}: tuple items"


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_json_payload_references_a_checked_schema_file() -> None:
    checked = {p.resolve() for p in schema_files()}
    for name in JSON_MESSAGES:
        payload = document_root["components"]["messages"][name]["payload"]
        assert payload["schemaFormat"] == DRAFT_07, name
        files = {(SCHEMAS / ref).resolve() for ref in refs(payload["schema"])}
        assert files and files <= checked, f"{name}: {files - checked}"
