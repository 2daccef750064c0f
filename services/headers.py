"""Reading the request headers that rank their values by quality: Accept and Accept-Language."""

from __future__ import annotations


def ranked_values(header: str) -> list[tuple[str, float]]:
    """The header's values (lower-cased, parameters dropped) with their `q` weights, in the order written;
    a malformed weight counts as 0 (not acceptable)."""
    out = []
    for part in header.split(","):
        value, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, weight = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(weight)
                except ValueError:
                    quality = 0.0
        if value:
            out.append((value.lower(), quality))
    return out
