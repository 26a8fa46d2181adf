"""A fast JSON module for Socket.IO packets: orjson, falling back to the standard library for what
orjson refuses (lone surrogates, integers beyond 64 bits, NaN), so odd input still gets an answer."""

from __future__ import annotations

import json
from typing import Any

import orjson


class orjson_module:  # noqa: N801 - used where python-socketio expects the `json` module
    @staticmethod
    def dumps(value: Any, **options: Any) -> str:
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(value, **options)

    @staticmethod
    def loads(text: str | bytes, **options: Any) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text, **options)
