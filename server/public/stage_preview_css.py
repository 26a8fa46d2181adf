"""static/css/stage-preview.css, made from static/css/stage.css: the projector's styles scoped to the
console's preview box, which lays the stage out at 1920x1080 and scales it down.

Run `python -m server.public.stage_preview_css` after changing stage.css (a test checks they agree).
"""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "static" / "css"
WIDTH, HEIGHT = 1920, 1080


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def scoped(stage_css: str) -> str:
    """stage.css for a 1920x1080 box: inside `.stage-preview__screen` only, with the projector's root font
    (2vw, 38.4 px) on the box, rem as em, and vw/vh as the box's pixels."""
    lines = [line for line in stage_css.splitlines() if not line.startswith("html {")]
    css = "\n".join(lines).replace("body.stage-body", ":scope")
    css = re.sub(r"(?<![\w.-])(\d+(?:\.\d+)?)rem\b", r"\1em", css)
    css = re.sub(r"(?<![\w.-])(\d+(?:\.\d+)?)vw\b", lambda m: _number(float(m[1]) * WIDTH / 100) + "px", css)
    css = re.sub(r"(?<![\w.-])(\d+(?:\.\d+)?)vh\b", lambda m: _number(float(m[1]) * HEIGHT / 100) + "px", css)
    return ("/* Made by server/public/stage_preview_css.py from stage.css: do not edit by hand. */\n"
            f"@scope (.stage-preview__screen) {{\n:scope {{ font-size: {_number(WIDTH * 0.02)}px; }}\n{css}\n}}\n")


def main() -> None:
    (CSS / "stage-preview.css").write_text(scoped((CSS / "stage.css").read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
