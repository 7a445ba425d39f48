"""A YAML loader that keeps policy values as written and refuses hostile documents.

YAML 1.1 reads ``2026-12-31`` as a date and ``NO`` (Norway) or ``on`` as booleans; a
policy file means them as text, so only ``true``/``false`` are booleans here and no
timestamps are resolved.

A policy file is configuration, not data, so what only an attacker or an accident needs
is refused while the document is composed, before any Python object is built from it:

* anchors and aliases (``&a``, ``*a``), so an "alias bomb" of nested references cannot
  expand into gigabytes, nor a merge key (``<<: *a``) copy a mapping over and over;
* nesting deeper than ``MAX_DEPTH`` collections, so construction cannot recurse without
  bound (a policy file needs about ten levels);
* explicit tags other than ``!!str``, so no ``!!binary``, ``!!set``, ``!!timestamp``,
  ``!!python/...`` or mistyped ``!!int`` value is ever constructed;
* integers written with more than ``MAX_NUMBER_CHARS`` characters, which Python could not
  even print;
* a key written twice in one mapping: YAML would keep the last silently, so a target or a
  calendar edited in one place and left in another would change without a word.

The loader checks the size (``MAX_FILE_BYTES``) first; see ``load_yaml``.
"""

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

MAX_FILE_BYTES = 256 * 1024
"""Largest policy file read, in bytes (the seed files are under 10 KiB)."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists in a policy file."""

MAX_NUMBER_CHARS = 100
"""Longest integer, in characters."""

_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"


class PolicyYamlError(yaml.YAMLError):
    """A document refused before it is built: ``problem`` says why, ``line`` where (from 1)."""

    def __init__(self, problem: str, mark: Any) -> None:  # a yaml Mark, or None
        self.problem = problem
        self.line = mark.line + 1 if mark is not None else None
        where = f"line {self.line}: " if self.line is not None else ""
        super().__init__(where + problem)


try:
    from yaml._yaml import CParser as _EventSource
except ImportError:  # PyYAML built without libyaml
    _EventSource = yaml.SafeLoader  # type: ignore[assignment,misc]


class _Parser(Composer, SafeConstructor, Resolver):
    """Events from libyaml (C, about five times faster than PyYAML's own scanner and parser)
    composed by PyYAML's Python composer, so ``PolicyYamlLoader.compose_node`` sees every
    node first; PyYAML's pure-Python parser where libyaml is missing."""

    def __init__(self, stream: str) -> None:
        # Only the events of either are used: nothing is composed or constructed by them.
        self._events: Any = _EventSource(stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def check_event(self, *choices: Any) -> bool:
        return bool(self._events.check_event(*choices))

    def peek_event(self) -> Any:
        return self._events.peek_event()

    def get_event(self) -> Any:
        return self._events.get_event()

    def dispose(self) -> None:
        self._events.dispose()


class PolicyYamlLoader(_Parser):
    """A safe loader with policy-file scalars and the refusals of this module's docstring."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise PolicyYamlError(
                f"alias *{event.anchor} refused: policy files may not use YAML anchors or "
                "aliases; write the value out",
                event.start_mark,
            )
        if event.anchor is not None:
            raise PolicyYamlError(
                f"anchor &{event.anchor} refused: policy files may not use YAML anchors or "
                "aliases; write the value out",
                event.start_mark,
            )
        tag = getattr(event, "tag", None)
        if tag not in (None, "!", _STR):
            raise PolicyYamlError(
                f"tag {tag} refused: policy files take no YAML tags but !!str (text); "
                "quote a value to make it text",
                event.start_mark,
            )
        if not isinstance(event, CollectionStartEvent):
            node = super().compose_node(parent, index)
            if (
                isinstance(event, ScalarEvent)
                and node is not None
                and node.tag == _INT
                and len(event.value) > MAX_NUMBER_CHARS
            ):
                raise PolicyYamlError(
                    f"a number of {len(event.value)} characters refused (at most "
                    f"{MAX_NUMBER_CHARS}); quote it if it is text",
                    event.start_mark,
                )
            return node
        if self._depth >= MAX_DEPTH:
            raise PolicyYamlError(
                f"nested deeper than {MAX_DEPTH} levels of mappings and lists", event.start_mark
            )
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, MappingNode):
            _refuse_duplicate_keys(node)
        return node


def _refuse_duplicate_keys(node: MappingNode) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode):
            continue
        identity = (key.tag, key.value)
        if identity not in seen:
            seen[identity] = key.start_mark.line + 1
        else:
            first = seen[identity]
            raise PolicyYamlError(
                f"key {key.value[:70]!r} written twice in one mapping (first on line {first}): "
                "YAML would keep only the last; remove one",
                key.start_mark,
            )


PolicyYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
PolicyYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """The document of a policy file; raises ``yaml.YAMLError`` (or ``PolicyYamlError``).

    Values are plain: ``str``, ``int``, ``float``, ``bool``, ``None``, lists and dicts.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise PolicyYamlError(
            f"{size:,} bytes refused: a policy file may hold at most {MAX_FILE_BYTES:,} bytes",
            None,
        )
    loader = PolicyYamlLoader(text)
    try:
        return loader.get_single_data()
    except ValueError as error:  # e.g. a value a constructor cannot convert
        raise PolicyYamlError(str(error), None) from None
    finally:
        loader.dispose()
