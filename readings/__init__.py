"""Readings of Japanese text for ふりがな and やさしい日本語 (easy Japanese).

`analysis` turns text into segments with hiragana readings (SudachiPy with sudachidict-core, numbers
and counters read by `numbers`, an organization's dictionary of local names applied first);
`ruby` writes them as accessible <ruby> markup, also inside whole HTML pages; `easy` checks a text
against the national easy-Japanese guideline. This package imports neither Litestar nor `server/`.
"""
