"""Typed text without invisible control characters (NUL, escape, …); tabs and line breaks stay."""

from __future__ import annotations

import re
from typing import Any

import msgspec

CONTROL_CHARACTERS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]))
_CONTROLS = re.compile(f"[{re.escape(CONTROL_CHARACTERS)}]")
# The one-byte controls, for text already encoded as UTF-8 (a C1 control takes two bytes there).
_CONTROL_BYTES = bytes(ord(c) for c in CONTROL_CHARACTERS if c < "\x80")


def without_controls(text: str) -> str:
    """Typed text without control characters."""
    return _CONTROLS.sub("", text)


def without_controls_in(value: Any) -> Any:
    """A copy of submitted data (structs, lists, text) with control characters removed from its text."""
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, list):
        return [without_controls_in(item) for item in value]
    if isinstance(value, msgspec.Struct):
        changes = {name: without_controls_in(getattr(value, name)) for name in value.__struct_fields__
                   if isinstance(getattr(value, name), (str, list, msgspec.Struct))}
        return msgspec.structs.replace(value, **changes) if changes else value
    return value


def without_control_bytes(encoded: bytes) -> bytes:
    """UTF-8 text (a whole calendar file) without its one-byte control characters, undecoded."""
    return encoded.translate(None, _CONTROL_BYTES)
