"""Closing joining in real Chromium: the console's button goes over the socket, every open console
shows the new state live, and the joining section (with its connections table) passes axe-core."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.harness import axe_violations, new_context
from tests.test_board_browser import (  # noqa: F401 - fixtures: the demo server's address and a session
    create_board, expect_live, join, server, session_id, signed_in_facilitator,
)

pytestmark = pytest.mark.browser


async def test_closing_joining_shows_live_on_every_console_and_turns_late_comers_away(browser, server, session_id):
    console = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(console, server, session_id, "締切のあるボード")
    watching = await console.context.new_page()  # a second console (the projector laptop)
    await watching.goto(f"{server}/boards/{board_id}/facilitate")
    await expect_live(watching)

    hanako = await join(browser, server, code, "花子")
    await expect(hanako.locator("#board-list")).to_be_visible()
    await expect(console.locator("#joining tbody tr")).to_have_count(1)  # refreshed when she connected

    close = console.locator("#joining button[type=submit]")
    await close.click()
    await expect(watching.locator("#joining .status")).to_be_visible()
    reopen_label = await watching.locator("#joining button[type=submit]").inner_text()
    await expect(console.locator("#joining button[type=submit]")).to_have_text(reopen_label)
    assert await axe_violations(console) == []

    late = await (await new_context(browser)).new_page()
    await late.goto(f"{server}/j/{code}")
    await expect(late.locator("[role=alert]")).to_be_visible()
    assert await axe_violations(late) == []

    await console.locator("#joining button[type=submit]").click()
    await expect(watching.locator("#joining .status")).to_have_count(0)
    await late.reload()
    await expect(late.locator("[role=alert]")).to_have_count(0)
