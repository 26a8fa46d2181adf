"""Keeping bots out of the registration form without JavaScript or an outside service.

Two checks: a honeypot field people never see (hidden by CSS, labelled for screen readers to
leave empty), and a signed timestamp: a form sent back faster than a person can fill it in, or
one whose timestamp was not issued by us, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HONEYPOT = "website"
STAMP = "form_stamp"
MAX_AGE_SECONDS = 12 * 3600


def issue_stamp(secret: str, now: float | None = None) -> str:
    """A timestamp signed with the server secret, put in the form when it is shown."""
    issued = str(int((now or time.time()) * 1000))
    signature = hmac.new(secret.encode(), f"form:{issued}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{issued}.{signature}"


def looks_automated(values: dict[str, object], secret: str, min_seconds: float, now: float | None = None) -> bool:
    """True when the honeypot was filled, or the stamp is missing, forged, too fresh or too old."""
    if str(values.get(HONEYPOT, "") or "").strip():
        return True
    issued, _, signature = str(values.get(STAMP, "") or "").partition(".")
    expected = hmac.new(secret.encode(), f"form:{issued}".encode(), hashlib.sha256).hexdigest()[:32]
    if not issued.isdigit() or not hmac.compare_digest(signature, expected):
        return True
    elapsed = (now or time.time()) - int(issued) / 1000
    return not (min_seconds <= elapsed <= MAX_AGE_SECONDS)


def sent_too_soon(values: dict[str, object], secret: str, min_seconds: float, now: float | None = None) -> bool:
    """True when a genuine stamp (ours, honeypot empty) came back before the minimum time: a person
    whose browser filled the form in, who can simply send it again in a moment."""
    if str(values.get(HONEYPOT, "") or "").strip():
        return False
    issued, _, signature = str(values.get(STAMP, "") or "").partition(".")
    expected = hmac.new(secret.encode(), f"form:{issued}".encode(), hashlib.sha256).hexdigest()[:32]
    if not issued.isdigit() or not hmac.compare_digest(signature, expected):
        return False
    return (now or time.time()) - int(issued) / 1000 < min_seconds
