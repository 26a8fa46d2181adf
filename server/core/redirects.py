"""Where a `next=` parameter may send the reader: only within the site."""

from __future__ import annotations


def local_path(target: str | None) -> str:
    """The target if it is a path on this site (no //evil.example, no scheme, no backslash), else /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
