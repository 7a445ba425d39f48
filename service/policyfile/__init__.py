"""Policy files (SPEC §3): YAML in, validated frozen core objects out."""

from .loader import check_directory, load_policies

__all__ = ["check_directory", "load_policies"]
