"""A board's settings (title, prompts, dots, anonymity, colours) read from a form or JSON.

Errors are message ids (marked with N_), translated by whoever shows them, as in sessions/.
"""

from __future__ import annotations

from typing import Any

from realtime.board import COLORS, N_

MAX_PROMPTS = 8
TITLE_MAX = 100


def _truthy(value: Any) -> bool:
    return value in (True, "1", "on", "true")


def _whole_number(values: dict[str, Any], name: str, default: int, errors: dict[str, str]) -> int:
    raw = values.get(name, default)
    try:
        value = int(raw) if raw not in ("", None) else default
    except (TypeError, ValueError):
        errors[name] = N_("Enter a whole number.")
        return default
    if not 1 <= value <= 20:
        errors[name] = N_("Enter a number from 1 to 20.")
    return value


def board_settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The board's settings and a message id per invalid field (none when all are valid)."""
    errors: dict[str, str] = {}
    title = str(values.get("title", "")).strip()
    prompts_raw = values.get("prompts", "")
    prompts = prompts_raw if isinstance(prompts_raw, list) else str(prompts_raw).splitlines()
    prompts = [str(p).strip() for p in prompts if str(p).strip()]
    if not title or len(title) > TITLE_MAX:
        errors["title"] = N_("Enter a title of up to 100 characters.")
    if not 1 <= len(prompts) <= MAX_PROMPTS or any(len(p) > TITLE_MAX for p in prompts):
        errors["prompts"] = N_("Enter 1 to 8 prompts, one per line, each up to 100 characters.")
    budget = _whole_number(values, "vote_budget", 5, errors)
    per_note = _whole_number(values, "max_votes_per_note", 3, errors)
    if per_note > budget and "max_votes_per_note" not in errors:
        errors["max_votes_per_note"] = N_("Dots per note cannot exceed the dots per person.")
    colors = values.get("colors") or list(COLORS)
    colors = [c for c in (colors if isinstance(colors, list) else [colors]) if c in COLORS] or list(COLORS)
    config = {"title": title, "prompts": prompts, "vote_budget": budget, "max_votes_per_note": per_note,
              "anonymous": _truthy(values.get("anonymous")), "private_writing": _truthy(values.get("private_writing")),
              "colors": colors}
    return config, errors
