"""The GLM twin's engine: a pure function of (request, state) to a `Reply`, no I/O.

It checks in the order the real gateway does: the key first (an unauthenticated GET gets 401
1001, not 405), then the route, quotas and rate limits, then the body. The adapters in
`respx_router.py` and `asgi.py` only move bytes and sleep for the delays a reply carries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import ValidationError

from .._jsonload import loads
from ..contract import ChatCompletionRequest, MessagesRequest, ModelCard, business_error, model_card
from ..contract.catalogue import (
    CODING_PLAN_AUTH_CODE,
    CONCURRENCY_MESSAGE_EN,
    DECIMALS_DETAIL,
    EMPTY_INPUT_MESSAGE,
    FIVE_HOURS,
    ROLE_INVALID_MESSAGE,
    THINKING_ALWAYS_ON_DETAIL,
    code_for_invalid,
    invalid_parameter_message,
    range_detail,
)
from . import messages
from ._journal import Journal
from .config import TWIN_KEY, KeyState, TwinConfig, TwinProfile
from .faults import Fault, FaultSpec
from .render import Step, TwinAnswer, completion_body, stream_script, usage_for
from .scenarios import plan_reply
from .tokens import TOKENS_PER_REQUEST, message_tokens, prompt_tokens

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream;charset=UTF-8"
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


# Bodies above this are refused with the over-long-prompt error, unread: no model's context
# window needs more, and the adapters drain the rest without keeping it.
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WireRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    oversized: bool = False  # the adapter dropped a body longer than MAX_BODY_BYTES

    @property
    def too_long(self) -> bool:
        return self.oversized or len(self.body) > MAX_BODY_BYTES


@dataclass(slots=True)
class Reply:
    """What to send: status and headers, then after `delay_s` either `body` or the `script`."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    delay_s: float = 0.0
    script: list[Step] | None = None
    on_close: Callable[[], None] | None = field(default=None, repr=False)
    precise: bool = False  # spin through the last millisecond of each wait (replays)

    @property
    def streaming(self) -> bool:
        return self.script is not None

    def close(self) -> None:
        """Give back the concurrency slot; adapters call this once the last byte is out."""
        release, self.on_close = self.on_close, None
        if release is not None:
            release()


class Handler(Protocol):
    """What the adapters serve: the twin, or anything else that answers like it (a replay)."""

    def handle(self, request: WireRequest) -> Reply: ...


class _Rejected(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class GLMTwin:
    """A stand-in for the GLM API that behaves like the recordings, faults included."""

    def __init__(self, config: TwinConfig | None = None, clock: Callable[[], float] = time.monotonic,
                 *, profile: TwinProfile | str | None = None):
        """`profile` picks the era the twin speaks ("2026", the default, or "2025")."""
        config = config or TwinConfig()
        if profile is not None:
            config = replace(config, profile=TwinProfile(profile))
        self.config = self._initial_config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: dict[Fault, list[Any]] = {}
        self._recent: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self._seen_prefixes: dict[str, set[int]] = {}
        self._serial = itertools.count()
        self.requests = Journal()
        for spec in self.config.faults:
            self.inject(spec)

    def reconfigure(self, **changes: Any) -> None:
        """Swap parts of the config (limits, timing, style, locale) for the next requests."""
        self.config = replace(self.config, **changes)

    def reset(self, config: TwinConfig | None = None) -> None:
        """Back to a fresh twin: config, faults, rate windows, caches (in-flight slots stay)."""
        with self._lock:
            self.config = config or self._initial_config
            self._faults.clear()
            self._recent.clear()
            self._seen_prefixes.clear()
            self.requests.clear()
        for spec in self.config.faults:
            self.inject(spec)

    def stream_pieces(self, body: Mapping[str, Any]) -> list[bytes]:
        """The byte pieces the twin writes for one streamed answer to `body` (one SSE event
        each), for what replays them without the twin: a micro-benchmark, a lean server."""
        request = WireRequest("POST", "/api/paas/v4/chat/completions",
                              {"Authorization": f"Bearer {TWIN_KEY}"},
                              json.dumps({**body, "stream": True}).encode())
        reply = self.handle(request)
        if reply.script is None:
            raise ValueError(f"the twin did not stream: HTTP {reply.status} {reply.body[:200]!r}")
        reply.close()
        return [step.data for step in reply.script if step.data]

    # -- faults -------------------------------------------------------------------------------
    def inject(self, spec: FaultSpec | Fault) -> None:
        spec = spec if isinstance(spec, FaultSpec) else FaultSpec(spec)
        with self._lock:
            self._faults[spec.fault] = [spec, spec.times]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_faults(self) -> dict[Fault, FaultSpec]:
        with self._lock:
            taken = {}
            for fault, armed in list(self._faults.items()):
                spec, left = armed
                taken[fault] = spec
                if left == 1:
                    del self._faults[fault]
                elif left > 1:
                    armed[1] = left - 1
            return taken

    # -- the request path ---------------------------------------------------------------------
    def handle(self, request: WireRequest) -> Reply:
        self.requests.append(request)
        faults = self._take_faults()
        # The Anthropic-compatible surface: the same checks in the same order, read and written
        # in the Messages API's shapes (messages.py).
        anthropic = messages.on_surface(request.path)
        call = None
        try:
            headers = messages.with_bearer(request.headers) if anthropic else request.headers
            key = self._authenticate(headers, coding_plan=_on_coding_plan(request.path))
            self._route(request)
            self._forced_errors(faults)
            self._check_account(key)
            self._check_rate(key)
            body = self._parse(request)
            if messages.is_messages_path(request.path):
                call = self._read_messages(body)
                chat, card = self._validate(call.chat)
            else:
                chat, card = self._validate(body)
            release = self._acquire(key)
        except _Rejected as rejected:
            reply = self._in_messages_envelope(rejected.reply) if anthropic else rejected.reply
            return self._disfigure(reply, faults)
        return self._answer(chat, card, key, faults, release, call)

    def _authenticate(self, headers: Mapping[str, str], coding_plan: bool = False) -> str:
        try:
            return self._key_of(headers)
        except _Rejected as rejected:
            # The Coding Plan endpoint answers a key it does not accept with its own 401 body
            # (recorded 2026-05-07, key `invalid_key_xxx`), not with the 1000-1004 codes.
            if coding_plan and rejected.reply.status == 401 and b'"1001"' not in rejected.reply.body:
                raise self._error(CODING_PLAN_AUTH_CODE) from None
            raise

    def _key_of(self, headers: Mapping[str, str]) -> str:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if not auth:
            raise self._error("1001")
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token.count(".") == 2:
            token = self._key_of_jwt(token)
        elif scheme.lower() != "bearer" or not _KEY_SHAPE.match(token):
            raise self._error("1002")
        state = self.config.keys.get(token)
        if state is None:
            raise self._error("1000")
        if state is KeyState.EXPIRED:
            raise self._error("1003")
        return token

    def _key_of_jwt(self, token: str) -> str:
        """GLM also takes a JWT made from the key (what zai-sdk and zhipuai send by default):
        HS256 over `{"api_key": <id>, "exp": ms, "timestamp": ms}`, signed with the secret."""
        head, body, signature = token.split(".")
        try:
            claims = json.loads(_b64url(body))
        except (ValueError, UnicodeDecodeError):
            raise self._error("1002") from None
        key = next((k for k in self.config.keys if k.split(".")[0] == claims.get("api_key")), None)
        if key is None:
            raise self._error("1000")
        secret = key.split(".", 1)[1].encode()
        expected = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url(signature)):
            raise self._error("1004")
        if int(claims.get("exp", 0)) < time.time() * 1000:
            raise self._error("1003")
        return key

    def _route(self, request: WireRequest) -> None:
        path = request.path.rstrip("/")
        if not (any(path == base + "/chat/completions" for base in self.config.base_paths)
                or messages.is_messages_path(path)):
            # Not documented: the real gateway's 404 body is unknown, so only the status is kept.
            raise _Rejected(_json(404, {"error": {"code": "404", "message": "Not Found"}}))
        if request.method.upper() != "POST":
            raise _Rejected(_json(405, {"error": {"code": "405", "message": "Method Not Allowed"}}))

    def _forced_errors(self, faults: dict[Fault, FaultSpec]) -> None:
        if Fault.SERVER_ERROR_BURST in faults:
            raise self._error("500")
        if Fault.RATE_LIMIT_BURST in faults:
            raise self._error("1302", headers=self.config.limits.retry_after_header(1.0))
        for fault, code in _BUSINESS_FAULTS.items():
            if fault in faults:
                raise self._business_fault(code)

    def _business_fault(self, code: str) -> _Rejected:
        if code == "1301":
            return self._content_filtered()
        now = time.time()
        reset_in = 5 * 3600 if code == "1308" else 3 * 86400
        fields = {"reset_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now + reset_in)),
                  "error_id": time.strftime("%Y%m%d%H%M%S", time.localtime(now))
                  + f"{next(self._serial):018x}",
                  "period": FIVE_HOURS.get(self.config.locale, FIVE_HOURS["en"])}
        return self._error(code, fields=fields)

    def _content_filtered(self) -> _Rejected:
        """400 1301, with the `contentFilter` field 1301 bodies carry beside `error`."""
        rejected = self._error("1301")
        body = {"contentFilter": [{"level": 1, "role": "user"}], **json.loads(rejected.reply.body)}
        return _Rejected(_json(rejected.reply.status, body))

    def _check_account(self, key: str) -> None:
        if self.config.keys[key] is KeyState.NO_BALANCE:
            raise self._error("1113")

    def _check_rate(self, key: str) -> None:
        limits = self.config.limits
        if limits.requests is None:
            return
        now = self._clock()
        with self._lock:
            window = self._recent.setdefault(key, deque())
            while window and now - window[0] >= limits.per_seconds:
                window.popleft()
            if len(window) >= limits.requests:
                wait = limits.per_seconds - (now - window[0])
                raise self._error("1302", headers=limits.retry_after_header(wait))
            window.append(now)

    def _acquire(self, key: str) -> Callable[[], None]:
        limit = self.config.limits.max_concurrency
        with self._lock:
            if limit is not None and self._in_flight.get(key, 0) >= limit:
                message = CONCURRENCY_MESSAGE_EN if self.config.locale == "en" else None
                raise self._error("1302", message=message,
                                  headers=self.config.limits.retry_after_header(1.0))
            self._in_flight[key] = self._in_flight.get(key, 0) + 1

        def release() -> None:
            with self._lock:
                self._in_flight[key] -= 1

        return release

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    # -- the body -------------------------------------------------------------------------------
    def _parse(self, request: WireRequest) -> Any:
        if request.too_long:
            raise self._error("1261")
        try:
            body = loads(request.body)
        except ValueError:  # not JSON, not UTF-8, nested too deep, a number too long
            raise self._error("1210") from None
        if not isinstance(body, dict):
            raise self._error("1210")
        return body

    def _validate(self, body: dict[str, Any]) -> tuple[ChatCompletionRequest, ModelCard]:
        name = body.get("model")
        card = model_card(name) if isinstance(name, str) else None
        if card is None:
            raise self._error("1211")
        try:
            chat = ChatCompletionRequest.model_validate(body)
        except ValidationError as error:
            raise self._invalid(error) from None
        except RecursionError:  # a value nested too deep for the validator
            raise self._error("1210") from None
        try:
            self._check_against_card(chat, card)
        except (RecursionError, ValueError):  # a tool schema too deep to serialise and count
            raise self._error("1210") from None
        return chat, card

    def _invalid(self, error: ValidationError) -> _Rejected:
        first = error.errors()[0]
        loc = first["loc"]
        if loc[0] == "messages":
            return self._messages_error(body_loc=loc, kind=first["type"], value=first.get("input"))
        param = str(loc[0])
        if param == "tools" and loc[-1] == "name" and first["type"] == "missing":
            return self._error("1210")  # recorded 2026-05-07 for a tool without a name: the plain text
        # Recorded: "The temperature parameter is illegal" names no range; only max_tokens does.
        detail = DECIMALS_DETAIL if first["type"] == "multiple_of" else None
        message = invalid_parameter_message(param, detail, self.config.locale)
        return self._error(code_for_invalid(param), message=message)

    def _messages_error(self, body_loc: tuple[Any, ...], kind: str, value: Any) -> _Rejected:
        if body_loc[-1] == "role" or kind == "union_tag_invalid":
            return self._error("1214", message=ROLE_INVALID_MESSAGE)
        if value == [] and len(body_loc) == 1 and self.config.locale == "zh":
            # `messages: []` on open.bigmodel.cn (2026-05-07); api.z.ai's words are not known.
            return self._error("1214", message=EMPTY_INPUT_MESSAGE)
        return self._error("1214")

    def _read_messages(self, body: dict[str, Any]) -> messages.MessagesCall:
        """A Messages request, validated by its contract, as the chat-completions body the engine
        validates and plans (the card's rules, the context window, the content filter)."""
        name = body.get("model")
        if not isinstance(name, str) or model_card(name) is None:
            raise self._error("1211")
        try:
            return messages.read_request(MessagesRequest.model_validate(body))
        except ValidationError as error:
            first = error.errors()[0]
            # a model-level rule (a tool_result answering no call, a forced tool not offered)
            param = str(first["loc"][0]) if first["loc"] else (
                "tool_choice" if "tool_choice" in first["msg"] else "messages")
            if param == "messages":
                raise self._error("1214") from None
            raise self._error(code_for_invalid(param),
                              message=invalid_parameter_message(param, None, self.config.locale)) from None
        except RecursionError:
            raise self._error("1210") from None

    def _in_messages_envelope(self, reply: Reply) -> Reply:
        status, body = messages.error_body(reply.status, json.loads(reply.body), self._request_id(),
                                           self.config.profile.value)
        return _json(status, body, {k: v for k, v in reply.headers.items() if k != "Content-Type"})

    def _request_id(self) -> str:
        """Like `20260507011135b3f1ac6a1b85459b`: the local date-time, then 16 hex digits."""
        serial = f"{next(self._serial)}:{time.time_ns()}".encode()
        return time.strftime("%Y%m%d%H%M%S") + hashlib.blake2b(serial, digest_size=8).hexdigest()

    def _check_against_card(self, chat: ChatCompletionRequest, card: ModelCard) -> None:
        locale = self.config.locale
        low, high = card.max_tokens_range
        if chat.max_tokens is not None and not low <= chat.max_tokens <= high:
            detail = range_detail(low, high)
            raise self._error("1210", message=invalid_parameter_message("max_tokens", detail, locale))
        if not chat.thinking_enabled and not card.accepts_thinking_disabled():
            # Recorded on open.bigmodel.cn (2026-10-09) as the whole message, with no parameter
            # prefix; the api.z.ai wording is not known, so English keeps the parameter form.
            raise self._error("1210", message=THINKING_ALWAYS_ON_DETAIL if locale == "zh" else
                              invalid_parameter_message("thinking", THINKING_ALWAYS_ON_DETAIL, locale))
        if all(m.role in ("system", "assistant") for m in chat.messages):
            raise self._error("1214")
        if any(m.role == "user" and not _has_text(m.content) for m in chat.messages):
            raise self._error("1213")
        if prompt_tokens(chat) > card.context_window:
            raise self._error("1261")
        if any(m.role == "user" and any(t in _plain(m.content) for t in self.config.style.blocked_terms)
               for m in chat.messages):
            raise self._content_filtered()

    # -- answers --------------------------------------------------------------------------------
    def _answer(self, chat: ChatCompletionRequest, card: ModelCard, key: str,
                faults: dict[Fault, FaultSpec], release: Callable[[], None],
                call: messages.MessagesCall | None = None) -> Reply:
        """`call`: the request came on the Anthropic-compatible surface; one plan, its rendering."""
        serial = next(self._serial)
        rng = random.Random(self.config.timing.seed * 1_000_003 + serial)
        thinking = (call.thinking if call else chat.thinking_enabled) and card.thinking != "none"
        era = self.config.profile.value
        plan = plan_reply(chat, self.config.style, thinking, era)
        prompt = prompt_tokens(chat)
        cached = self._cached_tokens(key, chat)
        answer = TwinAnswer(
            id=time.strftime("%Y%m%d%H%M%S") + f"{rng.getrandbits(64):016x}",
            created=int(time.time()),
            # Any spelling is served (`GLM-4.7`); a body echoes it as sent, a stream lower-cases it.
            model=chat.model.lower() if chat.stream else chat.model,
            plan=plan,
            usage=usage_for(prompt, plan, cached, card, era),
            request_id=chat.request_id,
            tool_stream=chat.tool_stream,
            faults=faults,
            era=era,
        )
        timing = self.config.timing
        if chat.stream:
            content_type = JSON_TYPE if Fault.WRONG_CONTENT_TYPE in faults else SSE_TYPE
            script = ([] if Fault.EMPTY_BODY in faults else
                      messages.event_script(answer, cached, timing, rng) if call else
                      stream_script(answer, timing, rng))
            headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
            return Reply(200, headers, script=script, on_close=release)
        tokens = max(plan.completion_tokens, 1)
        delay = timing.draw(timing.ttft_ms, rng) + sum(
            timing.draw(timing.itl_ms, rng) for _ in range(tokens - 1))
        body = (b"" if Fault.EMPTY_BODY in faults else messages.message_body(answer, cached) if call
                else _dumps(completion_body(answer)))
        content_type = "text/html" if Fault.WRONG_CONTENT_TYPE in faults else JSON_TYPE
        return Reply(200, {"Content-Type": content_type}, body, delay_s=delay, on_close=release)

    def _cached_tokens(self, key: str, chat: ChatCompletionRequest) -> int:
        """Prompt caching as GLM bills it: the longest message prefix this key sent before."""
        cached, running = 0, TOKENS_PER_REQUEST
        seen = self._seen_prefixes.setdefault(key, set())
        digest = 0
        for message in chat.messages:
            digest = hash((digest, json.dumps(message.to_wire(), sort_keys=True)))
            running += message_tokens(message)
            if digest in seen:
                cached = running
            seen.add(digest)
        if len(seen) > 100_000:
            seen.clear()
        return cached

    # -- errors ---------------------------------------------------------------------------------
    def _error(self, code: str, message: str | None = None, headers: dict[str, str] | None = None,
               fields: dict[str, str] | None = None) -> _Rejected:
        known = business_error(code)
        assert known is not None, code
        text = message or known.message(self.config.locale, **(fields or {}))
        reply = _json(known.http_status, {"error": {"code": code, "message": text}})
        reply.headers.update(headers or {})
        return _Rejected(reply)

    def _disfigure(self, reply: Reply, faults: dict[Fault, FaultSpec]) -> Reply:
        """The error-path faults: a numeric code, or a status other than the catalogue's."""
        if Fault.NUMERIC_ERROR_CODE in faults or Fault.WRONG_STATUS in faults:
            body = json.loads(reply.body)
            if Fault.NUMERIC_ERROR_CODE in faults and str(body["error"].get("code")).isdigit():
                body["error"]["code"] = int(body["error"]["code"])
            status = 500 if Fault.WRONG_STATUS in faults else reply.status
            return _json(status, body, reply.headers)
        return reply


_BUSINESS_FAULTS = {
    Fault.CONTENT_FILTER: "1301",
    Fault.OVERLOADED: "1305",
    Fault.PLAN_LIMIT: "1310",
    Fault.FIVE_HOUR_LIMIT: "1308",
    Fault.NETWORK_ERROR: "1234",
}


def _on_coding_plan(path: str) -> bool:
    return path.startswith("/api/coding/")


def _plain(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(getattr(part, "text", "") for part in content or ())


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _has_text(content: Any) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return bool(content)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": JSON_TYPE, **(headers or {})}, _dumps(body))
