"""A caption stream's transcript as files: WebVTT (cues timed from the session's start) and plain text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from realtime.captions import Line

LAST_CUE_SECONDS = 5.0  # how long the last line stays up (no next line ends it)
SHORTEST_CUE_SECONDS = 1.0


def _moment(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    """Cue text as WebVTT reads it: &, < and > escaped, and never the "-->" that starts a timing."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("--&gt;", "→")


def _voice(speaker: str) -> str:
    # a voice annotation ends at ">" and may not hold a line break; escaped as cue text otherwise
    return speaker.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def webvtt(lines: list[Line], starts_at: datetime, title: str = "") -> str:
    """Each line a cue from its commit (seconds after the start; a line before the start is at 0)
    until the next line (at least SHORTEST_CUE_SECONDS); the speaker as a voice span."""
    offsets = [max(0.0, (_moment(line.at) - starts_at).total_seconds()) for line in lines]
    out = ["WEBVTT" + (" - " + title.replace("-->", "→").replace("\n", " ") if title else ""), ""]
    for index, line in enumerate(lines):
        start = offsets[index]
        following = offsets[index + 1] if index + 1 < len(lines) else start + LAST_CUE_SECONDS
        end = max(following, start + SHORTEST_CUE_SECONDS)
        text = _cue_text(line.text)
        if line.speaker:
            text = f"<v {_voice(line.speaker)}>{text}"
        out += [str(line.line), f"{_timestamp(start)} --> {_timestamp(end)}", text, ""]
    return "\n".join(out)


def plain_text(lines: list[Line], timezone: str, title: str = "") -> str:
    """One line per caption: its local time, the speaker, the text."""
    zone = ZoneInfo(timezone)
    out = [title, ""] if title else []
    for line in lines:
        local = _moment(line.at).astimezone(zone).strftime("%H:%M:%S")
        out.append(f"[{local}] {line.speaker + ': ' if line.speaker else ''}{line.text}")
    return "\n".join(out) + "\n"

