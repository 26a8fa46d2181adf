"""Logging that never records secrets: registrant and theme follower tokens in paths, and names searched for
in the roster, are masked in the access log."""

from __future__ import annotations

import logging
import re
from typing import Any

# registrants' tokens, and the tokens of a theme follower's confirm and unsubscribe links (論点整理)
TOKEN_PATH = re.compile(r"(/(?:r|api/registrations|themes/[^/\s?]+/(?:follow|unsubscribe))/)[A-Za-z0-9_\-]{8,}")
# the roster search on staff pages takes a registrant's name (a GET form, so it works without JavaScript)
ROSTER_SEARCH = re.compile(r"(/organize/[^?\s]*\?(?:[^\s#]*&)?q=)[^&\s#]*")


def mask(text: str) -> str:
    """/r/Abc…xyz/cancel → /r/***/cancel; /organize/…?q=田中 → /organize/…?q=***."""
    return ROSTER_SEARCH.sub(r"\1***", TOKEN_PATH.sub(r"\1***", text))


class MaskTokens(logging.Filter):
    """A logging filter for uvicorn's access log (its path is one of the record's args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = mask(record.msg)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging with token masking on the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "filters": {"mask_tokens": {"()": MaskTokens}}}
    config["handlers"] = {name: dict(handler) for name, handler in LOGGING_CONFIG["handlers"].items()}
    config["handlers"]["access"]["filters"] = ["mask_tokens"]
    return config
