"""Checks for the names and strings that end up inside Kubernetes objects.

Each check returns None when the value is acceptable, else a message that says
what the value must look like. The rules are those of the Kubernetes API server
(apimachinery's validation package), so a request that passes here is not
rejected later by the server for the same reason.
"""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# The reference grammar of container images: an optional registry host with port,
# lowercase path components separated by `.`, `_`, `__` or `-`, an optional tag
# and an optional digest.
IMAGE_REFERENCE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])"
    r"(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


def check_dns_label(value: str) -> str | None:
    """DNS-1123 label: what every component, step and application name must be."""
    if len(value) > 63:
        return f"must be at most 63 characters (it has {len(value)})"
    if not DNS1123_LABEL.match(value):
        hint = " (names are not lowercased for you)" if value.lower() != value else ""
        return (
            "must be a DNS-1123 label: lowercase letters, digits and '-',"
            f" starting and ending with a letter or digit{hint}"
        )
    return None


def check_dns1035_label(value: str) -> str | None:
    """DNS-1035 label: what a Service name must be (a letter first)."""
    problem = check_dns_label(value)
    if problem:
        return problem
    if not DNS1035_LABEL.match(value):
        return "must start with a letter because it names a Service (DNS-1035 label)"
    return None


def check_subdomain(value: str) -> str | None:
    """DNS-1123 subdomain: what most object names must be."""
    if len(value) > 253:
        return f"must be at most 253 characters (it has {len(value)})"
    if not DNS1123_SUBDOMAIN.match(value):
        return (
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.',"
            " starting and ending with a letter or digit"
        )
    return None


def check_label_value(value: str) -> str | None:
    if len(value) > 63:
        return f"must be at most 63 characters to be used as a label value (it has {len(value)})"
    if not LABEL_VALUE.match(value):
        return (
            "must be usable as a label value: letters, digits, '-', '_' and '.',"
            " starting and ending with a letter or digit"
        )
    return None


def check_label_key(value: str) -> str | None:
    prefix, _, name = value.rpartition("/")
    if prefix and check_subdomain(prefix):
        return f"label key prefix {prefix!r} must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        return (
            "must be a label key: an optional DNS subdomain prefix and '/', then at most"
            " 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def check_config_key(value: str) -> str | None:
    if len(value) > 253 or not CONFIG_KEY.match(value):
        return "must be a valid key: at most 253 letters, digits, '-', '_' or '.'"
    return None


def check_env_name(value: str) -> str | None:
    if not ENV_NAME.match(value):
        return "must be an environment variable name: letters, digits, '_', '-' or '.', not starting with a digit"
    return None


def check_port_name(value: str) -> str | None:
    if len(value) > 15 or not PORT_NAME.match(value) or "--" in value:
        return "must be a port name: at most 15 lowercase letters, digits and '-', with a letter"
    if not any(char.isalpha() for char in value):
        return "must be a port name: at most 15 lowercase letters, digits and '-', with a letter"
    return None


def check_image(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > 1024 or not IMAGE_REFERENCE.match(value):
        return (
            "must be a container image reference such as 'mysql:8',"
            " 'registry.example.com/team/app:1.2' or 'app@sha256:…'"
            " (the repository part is lowercase, with no spaces)"
        )
    return None
