"""A YAML loader that keeps policy values as written.

YAML 1.1 reads ``2026-12-31`` as a date and ``NO`` (Norway) or ``on`` as booleans; a
policy file means them as text, so only ``true``/``false`` are booleans here and no
timestamps are resolved.
"""

import re

import yaml


class PolicyYamlLoader(yaml.SafeLoader):
    pass


PolicyYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PolicyYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
