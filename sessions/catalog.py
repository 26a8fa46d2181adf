"""The fixed vocabularies of the scheduling domain, with their display names.

Labels are English message ids marked with N_ so Babel extracts them; the web shell translates
them for the reader (Japanese by default, see GLOSSARY.md).
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for translation without translating it here."""
    return message


KINDS: dict[str, str] = {
    "dialogue": N_("Dialogue session"),
    "round_table": N_("Round table"),
    "workshop": N_("Workshop"),
    "forum": N_("Citizens' forum"),
    "briefing": N_("Briefing / opinion exchange"),
    "lecture": N_("Course / lecture"),
}

FORMATS: dict[str, str] = {
    "in_person": N_("In person"),
    "online": N_("Online"),
    "hybrid": N_("Hybrid"),
}

STATUSES: dict[str, str] = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "cancelled": N_("Cancelled"),
    "completed": N_("Completed"),
}

ACCOMMODATIONS: dict[str, str] = {
    "sign_language": N_("Sign language interpretation"),
    "captioning": N_("Captioning (typed or handwritten)"),
    "wheelchair_space": N_("Wheelchair space"),
    "hearing_loop": N_("Hearing loop"),
    "braille_materials": N_("Braille / large-print materials"),
    "easy_japanese": N_("Easy Japanese"),
    "interpretation": N_("Interpretation"),
    "other": N_("Other accommodation"),
}

ACCOMMODATION_MODES: dict[str, str] = {
    "always": N_("Always provided"),
    "on_request": N_("On request"),
}

VENUE_FEATURES: dict[str, str] = {
    "step_free": N_("Step-free access"),
    "elevator": N_("Elevator"),
    "accessible_toilet": N_("Accessible toilet"),
    "hearing_loop": N_("Hearing loop installed"),
    "nursing_room": N_("Nursing room"),
    "parking": N_("Parking"),
}

LANGUAGES: dict[str, str] = {
    "ja": N_("Japanese"),
    "en": N_("English"),
    "zh": N_("Chinese"),
    "ko": N_("Korean"),
    "vi": N_("Vietnamese"),
    "pt": N_("Portuguese"),
    "tl": N_("Tagalog"),
    "ne": N_("Nepali"),
    "jsl": N_("Japanese Sign Language"),
}

REGISTRATION_MODES: dict[str, str] = {
    "in_person": N_("In person"),
    "online": N_("Online"),
}

REGISTRATION_STATUSES: dict[str, str] = {
    "confirmed": N_("Confirmed"),
    "waitlisted": N_("Waitlisted"),
    "cancelled": N_("Registration cancelled"),
    "attended": N_("Attended"),
}

REQUEST_STATUSES: dict[str, str] = {
    "requested": N_("Requested"),
    "confirmed": N_("Arranged"),
    "unavailable": N_("Could not be arranged"),
    "cancelled": N_("Request withdrawn"),
}

AFTER_DEADLINE: dict[str, str] = {
    "closed": N_("Closed after the deadline"),
    "best_effort": N_("Accepted after the deadline, but may not be arranged"),
}

DEFAULT_TIMEZONE = "Asia/Tokyo"
# Japanese cities ask for accommodation and childcare requests about a week ahead.
DEFAULT_REQUEST_DAYS_BEFORE = 7
MAX_CHILD_AGE_MONTHS = 18 * 12


class Age(int):
    """An age in months, as a message parameter: the web shell says it in years and months."""
MAX_OCCURRENCES = 104
