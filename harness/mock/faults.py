"""The faults the twin can inject, each the shape of a real failure a client must survive or flag."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    # transport
    RESET_MID_STREAM = "reset_mid_stream"
    STALL = "stall"
    # framing
    TRUNCATED_CHUNK = "truncated_chunk"
    MALFORMED_JSON_CHUNK = "malformed_json_chunk"
    MISSING_DONE = "missing_done"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    EMPTY_BODY = "empty_body"
    # status
    SERVER_ERROR_BURST = "server_error_burst"
    RATE_LIMIT_BURST = "rate_limit_burst"
    WRONG_STATUS = "wrong_status"
    # business errors the real API sends that no request of the twin's can provoke on its own
    CONTENT_FILTER = "content_filter"  # 400 1301, with `contentFilter` in the body
    OVERLOADED = "overloaded"  # 429 1305
    PLAN_LIMIT = "plan_limit"  # 429 1310, with the reset time
    FIVE_HOUR_LIMIT = "five_hour_limit"  # 429 1308, the Coding Plan's 5-hour window, with the reset time
    NETWORK_ERROR = "network_error"  # 500 1234, with an error id
    # content
    DUPLICATE_FINISH_REASON = "duplicate_finish_reason"
    MISSING_USAGE = "missing_usage"
    INVALID_TOOL_ARGUMENTS = "invalid_tool_arguments"
    MISSING_FIELD = "missing_field"
    NUMERIC_ERROR_CODE = "numeric_error_code"
    WRONG_USAGE = "wrong_usage"


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault, armed for the next `times` requests (0: every request until cleared).

    `after_chunks` says where in a stream a mid-stream fault strikes; `stall_s` how long a stall
    lasts.
    """

    fault: Fault
    times: int = 0
    after_chunks: int = 3
    stall_s: float = 30.0


def parse_fault(text: str) -> FaultSpec:
    """`reset_mid_stream`, `rate_limit_burst:5` (5 requests), `stall:0:2.5` (2.5 s, every request)."""
    name, *rest = text.split(":")
    try:
        fault = Fault(name)
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault {name!r}; known: {known}") from None
    times = int(rest[0]) if rest else 0
    stall = float(rest[1]) if len(rest) > 1 else 30.0
    if len(rest) > 2 or times < 0 or not 0 <= stall < math.inf:
        raise ValueError(f"invalid fault {text!r}: TIMES must be >= 0 and STALL_SECONDS a finite "
                         "number >= 0")
    return FaultSpec(fault, times=times, stall_s=stall)
