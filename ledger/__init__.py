"""The accountability ledger (論点整理): themes, the opinions residents gave, the issues organizers
group them under, and the city's responses, appended in time order and published.

Like sessions/ and realtime/, this package imports neither Litestar nor server/: `models` (the
vocabularies and shapes), `rules` (validation, an issue's status, what is due before the next
session), `store` (its SQL), `themes` (every change, each in one transaction), `collecting` (opinions
from a board), `following` (mail followers: double opt-in and unsubscribe), `open_data` (JSON, CSV,
Atom) and `demo` (a theme for `taiwa serve --demo`).
"""
