"""Secrets stay out of the logs: registrant tokens in the access log are masked."""

from __future__ import annotations

import logging

from server.core.logs import MaskTokens, mask


def test_registrant_tokens_are_masked_in_paths():
    assert mask("GET /r/AbCdEf0123456789_-xyz/cancel HTTP/1.1") == "GET /r/***/cancel HTTP/1.1"
    assert mask("DELETE /api/registrations/AbCdEf0123456789") == "DELETE /api/registrations/***"
    assert mask("GET /sessions/12 HTTP/1.1") == "GET /sessions/12 HTTP/1.1"


def test_access_log_record_is_masked():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/r/SecretToken1234567890?new=1", "1.1", 200), None)
    MaskTokens().filter(record)
    assert "SecretToken" not in record.getMessage() and "/r/***" in record.getMessage()
