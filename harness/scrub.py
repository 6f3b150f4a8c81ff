"""The one scrubber every writer uses: reports, transcripts, logs.

A `Scrubber` knows the secrets of a run (API keys, and their secret half) and which request
fields the user marked as sensitive (`user_id`, `request_id`). Before anything is written it
replaces, anywhere in the text or in a JSON value:

- every secret (and the part after the `.` of an `<id>.<secret>` key) with `<scrubbed>`, in any
  letter case; the same in base64 (standard or URL-safe, at any of the three byte alignments),
  which is how a key hides inside an encoded blob; and what is left of either where a writer
  cut a text mid-secret (their prefixes and suffixes of 16+ characters);
- a run of text that holds one of those once its escapes are undone: percent-encoding
  (`%67%6C...`, either hex case) and JSON `\\uXXXX` escapes (of every character or a few, with
  the backslash itself escaped again as JSON does when it writes such text into a string);
- JSON Web Tokens (the form a zai/zhipuai client sends a key in): a bearer credential by itself;
- bearer tokens (`Bearer abc...`), except a reference to an environment variable (`$ZAI_API_KEY`),
  which is what the harness's curl lines print on purpose;
- the values of credential headers (`Authorization`, `Cookie`, `Set-Cookie`, `X-Api-Key`...);
- the values of the marked fields, as JSON keys (`"user_id": "..."`) in objects and in raw text.

A secret a server split over several stream events, each piece shorter than the cut minimum,
is caught by `scrub_pieces`, which joins the pieces before it scrubs them (the transcript
writer runs each stream's text fields through it).

Secrets are known from the environment (`ZAI_API_KEY` and any variable named) and from every
live `Target` created in this process (`register`), so a writer that only has text still
scrubs the run's key: `scrub_text(text)` is the one call every output goes through (files,
the CLI's stdout and stderr, pytest's reports and logs via `harness._pytest_scrub`).

`ENABLED` (or the `disabled()` context manager) switches every scrubber off at once. It exists
for one reason: the key-leak test proves it would notice if scrubbing stopped.
"""

from __future__ import annotations

import base64
import bisect
import functools
import os
import re
import sys
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from .targets import Secret

if TYPE_CHECKING:
    from .targets import Target

SCRUBBED = "<scrubbed>"
DEFAULT_KEY_ENV = "ZAI_API_KEY"
SENSITIVE_CHOICES = ("user_id", "request_id")
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
})
# A header that carries a sensitive field's value (the API echoes request_id as a header too).
_FIELD_HEADERS = {"request_id": ("x-request-id", "request-id"), "user_id": ("x-user-id",)}
_MIN_SECRET_PART = 8  # shorter secret halves are too likely to be ordinary words
_MIN_FIELD_VALUE = 6  # a marked field's value is replaced everywhere only from this length on

# Every `Scrubber` checks this at use; only the leak-proof test turns it off.
ENABLED = True

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)(?!\$)([A-Za-z0-9._~+/=-]{8,})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_MIN_ENCODED = 12  # a shorter base64 run than this is too likely to occur by chance
_MIN_CUT = 16  # the shortest piece of a cut secret still scrubbed
# One escape of a printable ASCII character (what keys are made of): percent-encoding, or a JSON
# \\u escape (its backslash maybe escaped again); other escapes (a JSON text's Chinese, say) cannot
# hide a key and are left alone, which keeps the common case fast. And a run of URL/JSON-safe
# characters and escapes, which an escaped secret lies inside.
_ESCAPE = re.compile(r"%([2-7][0-9A-Fa-f])|\\+u(00[2-7][0-9A-Fa-f])")
_PERCENT = re.compile(r"%[2-7][0-9A-Fa-f]")
_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2}|\\+u[0-9A-Fa-f]{4}|[\w.~+/=-])+")
_registered: set[str] = set()


def register(secret: Secret | str | None) -> None:
    """Scrub this secret from every output of the process from now on. A value shorter than
    _MIN_SECRET_PART is no key anyone issues, and scrubbing it would eat ordinary words."""
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if value and len(value.strip()) >= _MIN_SECRET_PART:
        _registered.add(value.strip())


def register_userinfo(userinfo: str) -> None:
    """Scrub a base URL's `user:pass@` from every output: the password (as written and decoded)
    when it is long enough to be no ordinary word, and `user:pass@` itself at any length."""
    _, colon, password = userinfo.partition(":")
    if not colon or not password:
        return
    for value in {password, urllib.parse.unquote(password)}:
        register(value)
    _registered.add(f"{userinfo}@")


@contextmanager
def disabled() -> Iterator[None]:
    """Turn every scrubber off for the duration (for the test that proves leaks are caught)."""
    global ENABLED
    before, ENABLED = ENABLED, False
    try:
        yield
    finally:
        ENABLED = before


def known_secrets(target: Target | None = None, env_names: Iterable[str] = ()) -> list[str]:
    """The run's secrets: the target's key, the key in the target's env variable and in
    `ZAI_API_KEY`, and any other env variables named."""
    names = [DEFAULT_KEY_ENV, *env_names]
    values: list[str] = []
    if target is not None:
        names.append(target.api_key_env)
        if target.api_key:
            values.append(target.api_key.reveal())
    values += [os.environ.get(name, "").strip() for name in names]
    values += _registered
    return sorted({v for v in values if v}, key=len, reverse=True)


def parse_fields(text: str | Iterable[str] | None) -> frozenset[str]:
    """`"user_id,request_id"` (or a list) to a set of field names; unknown names are accepted."""
    if not text:
        return frozenset()
    parts = text.split(",") if isinstance(text, str) else list(text)
    return frozenset(p.strip() for p in parts if p.strip())


class Scrubber:
    def __init__(self, secrets: Iterable[Secret | str | None] = (),
                 sensitive_fields: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            value = secret.reveal() if isinstance(secret, Secret) else secret
            value = (value or "").strip()
            if not value:
                continue
            values.add(value)
            _, dot, tail = value.rpartition(".")
            if dot and len(tail) >= _MIN_SECRET_PART:
                values.add(tail)
        self.secrets: tuple[str, ...] = tuple(sorted(values, key=len, reverse=True))
        # Each secret and its base64 forms, with their cut forms. Every cut form holds the
        # value's first or last _MIN_CUT characters, so two searches tell whether any can occur.
        bases = values | {form for value in values for form in _base64_forms(value)}
        self._forms = [
            (value[:_MIN_CUT].lower(), value[-_MIN_CUT:].lower(),
             _pattern(tuple(sorted({value, *_cut_forms(value)}, key=len, reverse=True))))
            for value in sorted(bases, key=len, reverse=True)
        ]
        self.sensitive_fields = frozenset(sensitive_fields)
        self._field_headers = {h for f in self.sensitive_fields for h in _FIELD_HEADERS.get(f, ())}
        self._fields = (
            re.compile(r'("(?:' + "|".join(re.escape(f) for f in sorted(self.sensitive_fields))
                       + r')"\s*:\s*)"(?:[^"\\]|\\.)*"')
            if self.sensitive_fields else None
        )

    @classmethod
    def for_target(cls, target: Target | None, sensitive_fields: Iterable[str] = (),
                   env_names: Iterable[str] = ()) -> Scrubber:
        return cls(known_secrets(target, env_names), sensitive_fields)

    def with_values(self, values: Iterable[str]) -> Scrubber:
        """A scrubber that also removes these literal values (e.g. a marked field's value, so
        that it goes wherever it is echoed)."""
        extra = [v for v in values if isinstance(v, str) and len(v.strip()) >= _MIN_FIELD_VALUE]
        if not extra:
            return self
        return Scrubber([*self.secrets, *extra], self.sensitive_fields)

    # -- text ---------------------------------------------------------------------------------
    def scrub_text(self, text: str) -> str:
        if not ENABLED or not text:
            return text
        if "\\u00" in text or ("%" in text and _PERCENT.search(text)):
            text = self._unescaped_runs(text)
        low = text.lower()
        for head, tail, pattern in self._forms:
            if head in low or tail in low:
                text = pattern.sub(SCRUBBED, text)
        if "eyJ" in text:  # the regex scan is slow; every JWT starts with this
            text = _JWT.sub(SCRUBBED, text)
        text = _BEARER.sub(lambda m: f"{m[1]}{m[2]}{SCRUBBED}", text)
        if self._fields is not None:
            text = self._fields.sub(lambda m: f'{m[1]}"{SCRUBBED}"', text)
        return text

    def _holds_secret(self, text: str) -> bool:
        low = text.lower()
        return any((head in low or tail in low) and pattern.search(text)
                   for head, tail, pattern in self._forms)

    def _unescaped_runs(self, text: str) -> str:
        """Every run of URL/JSON-safe characters that holds a secret once its escapes are undone,
        replaced whole. The whole text is unescaped first: most texts hold no secret at all."""
        if not self._forms or not self._holds_secret(_ESCAPE.sub(_unescape, text)):
            return text

        def run(match: re.Match[str]) -> str:
            found = match[0]
            if _ESCAPE.search(found) and self._holds_secret(_ESCAPE.sub(_unescape, found)):
                return SCRUBBED
            return found

        return _RUN.sub(run, text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the secrets (any case, and their base64 and cut forms) lie in `text`, merged."""
        low = text.lower()
        found = sorted(m.span() for head, tail, pattern in self._forms
                       if head in low or tail in low for m in pattern.finditer(text))
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def scrub_pieces(self, pieces: Sequence[str]) -> list[str]:
        """Scrub text that arrived in pieces (a stream's deltas) as one text: a secret split into
        pieces too short to recognise alone is found in the joined text, and each piece loses
        its share of it (the piece where it starts shows `<scrubbed>`). Then each piece is
        scrubbed as any text."""
        if not ENABLED:
            return list(pieces)
        joined = "".join(pieces)
        spans = self.spans(joined) if len(pieces) > 1 else []
        starts = [start for start, _ in spans]
        out: list[str] = []
        offset = 0
        for piece in pieces:
            kept: list[str] = []
            for i, char in enumerate(piece):
                at = offset + i
                k = bisect.bisect_right(starts, at) - 1
                if k < 0 or at >= spans[k][1]:
                    kept.append(char)
                elif at == spans[k][0]:
                    kept.append(SCRUBBED)
            offset += len(piece)
            out.append(self.scrub_text("".join(kept)))
        return out

    def scrub_bytes(self, data: bytes) -> bytes:
        """The same on raw bytes; any byte that is not UTF-8 passes through unchanged."""
        if not ENABLED or not data:
            return data
        text = data.decode("utf-8", "surrogateescape")
        scrubbed = self.scrub_text(text)
        return data if scrubbed == text else scrubbed.encode("utf-8", "surrogateescape")

    # -- JSON values --------------------------------------------------------------------------
    def scrub_json(self, obj: Any) -> Any:
        """A scrubbed copy: secrets in any string, credential headers and marked fields."""
        if not ENABLED:
            return obj
        return self._json(obj)

    def _json(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.scrub_text(obj)
        if isinstance(obj, Mapping):
            out = {}
            for key, value in obj.items():
                name = str(key)
                if name.lower() in CREDENTIAL_HEADERS and isinstance(value, str):
                    out[key] = _credential(value)
                elif name in self.sensitive_fields and value is not None:
                    out[key] = SCRUBBED
                else:
                    out[key] = self._json(value)
            return out
        if isinstance(obj, list | tuple):
            return [self._json(v) for v in obj]
        return obj

    def scrub_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with credential values and marked-field headers scrubbed (names kept)."""
        if not ENABLED:
            return dict(headers)
        out = {}
        for name, value in headers.items():
            low = name.lower()
            if low in CREDENTIAL_HEADERS:
                out[name] = _credential(value)
            elif low in self._field_headers:
                out[name] = SCRUBBED
            else:
                out[name] = self.scrub_text(value)
        return out

    def sensitive_values(self, obj: Any) -> list[str]:
        """The string values of the marked fields anywhere in a JSON value."""
        found: list[str] = []
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if key in self.sensitive_fields and isinstance(value, str):
                    found.append(value)
                else:
                    found += self.sensitive_values(value)
        elif isinstance(obj, list | tuple):
            for value in obj:
                found += self.sensitive_values(value)
        return found


def _cut_forms(secret: str) -> set[str]:
    """The secret's long prefixes and suffixes: what is left of it where a writer cut a text
    to a length (an excerpt, an error message) before the scrubber saw it."""
    return {cut for n in range(_MIN_CUT, len(secret)) for cut in (secret[:n], secret[-n:])}


def _base64_forms(secret: str) -> set[str]:
    """The parts of `secret`'s base64 that any encoding of a blob holding it contains: for each
    alignment (the secret starting 0, 1 or 2 bytes into a 3-byte group) the characters that
    depend on the secret's bytes alone, in both alphabets."""
    raw = secret.encode()
    forms = set()
    for offset in range(3):
        stable_end = (offset + len(raw)) // 3 * 4  # the last, partial group mixes with what follows
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + raw).decode()
            core = text[4 if offset else 0:stable_end]  # the first group mixes with what precedes
            if len(core) >= _MIN_ENCODED:
                forms.add(core)
    return forms


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match[1] or match[2], 16))


@functools.lru_cache(maxsize=256)
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    """One search for a secret's forms, longest first, in any letter case."""
    return re.compile("|".join(re.escape(form) for form in forms), re.IGNORECASE)


def _credential(value: str) -> str:
    scheme, space, _ = value.strip().partition(" ")
    return f"{scheme} {SCRUBBED}" if space and scheme.lower() in ("bearer", "basic") else SCRUBBED


def scrub_text(text: str, *secrets: Secret | str | None) -> str:
    """Shorthand: scrub `text` of these secrets and of every known one."""
    if not ENABLED or not text:
        return text
    values = (s.reveal() if isinstance(s, Secret) else s for s in secrets)
    return _scrubber(tuple(sorted({*(v for v in values if v), *known_secrets()}))).scrub_text(text)


@functools.lru_cache(maxsize=16)
def _scrubber(secrets: tuple[str, ...]) -> Scrubber:
    return Scrubber(secrets)


class ScrubbedStream:
    """A text stream that scrubs what is written to it: the CLI's stdout and stderr."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def scrubbed_stdio() -> Iterator[None]:
    """While inside, everything printed to stdout or stderr is scrubbed."""
    before = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(sys.stdout), ScrubbedStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = before
