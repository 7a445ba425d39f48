"""Policy files (docs/policies.md): YAML in, validated frozen core objects out."""

from .loader import check_directory, check_sources, load_policies, load_policy_text

__all__ = ["check_directory", "check_sources", "load_policies", "load_policy_text"]
