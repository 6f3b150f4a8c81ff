"""JSON from untrusted bytes: a document nested too deep or a number too long for Python is
the same `ValueError` as any other invalid JSON, never a `RecursionError` traceback."""

from __future__ import annotations

import json
from typing import Any


class JSONTooComplex(ValueError):
    """Valid JSON this process will not hold: nested too deep, or an integer too long."""


def loads(raw: bytes | str) -> Any:
    """`json.loads`, raising `json.JSONDecodeError`/`UnicodeDecodeError` for invalid JSON and
    `JSONTooComplex` for a document too deep or with an over-long integer."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise JSONTooComplex("JSON nested too deep") from None
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
            raise
        # int() refuses more than sys.get_int_max_str_digits() digits (CVE-2020-10735)
        raise JSONTooComplex(f"JSON number too long ({error})") from None
