"""Parsing of durations (`90s`, `1m30s`) and Kubernetes resource quantities (`1Gi`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}
MAX_DURATION_SECONDS = 7 * 24 * 3600

# The grammar of resource.Quantity: a signed decimal number, then a binary (Ki..Ei)
# or decimal (n, u, m, k, M, G, T, P, E) suffix, or a decimal exponent (e3, E-2).
_QUANTITY = re.compile(
    r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_duration(text: str) -> float:
    """Return the seconds in a duration such as `90s`, `5m`, `1h30m` or `500ms`.

    Raises ValueError with the accepted forms when the text is not one, is zero,
    or is longer than a week.
    """
    stripped = text.strip()
    position = 0
    total = Decimal(0)
    for match in _DURATION_PART.finditer(stripped):
        if match.start() != position:
            break
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not stripped or position != len(stripped):
        raise ValueError(
            f"invalid duration {text!r}: expected a number with a unit"
            " (ms, s, m, h), such as '90s', '5m' or '1h30m'"
        )
    if total <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    if total > MAX_DURATION_SECONDS:
        raise ValueError(f"invalid duration {text!r}: must be at most 7 days ('168h')")
    return float(total)


def parse_quantity(text: str) -> Decimal:
    """Return the value of a Kubernetes quantity such as `500m`, `1Gi` or `2e3`.

    Raises ValueError naming the accepted suffixes when the text is not a quantity.
    """
    match = _QUANTITY.match(text.strip()) if len(text) <= 64 else None
    if match is None:
        raise ValueError(
            f"invalid quantity {text!r}: expected a number with an optional suffix"
            " (Ki, Mi, Gi, Ti, Pi, Ei, m, k, M, G, T, P, E), such as '500m' or '1Gi'"
        )
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except (
        InvalidOperation
    ) as error:  # pragma: no cover - the regex admits decimals only
        raise ValueError(f"invalid quantity {text!r}") from error
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return value * (Decimal(10) ** int(suffix[1:]))
    return value * _DECIMAL[suffix]


def format_seconds(seconds: float) -> str:
    """Format seconds the way requests write them: `90s`, `5m`, `1h30m`."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{secs}s" if secs or not (hours or minutes) else "")
    return "".join(parts)
