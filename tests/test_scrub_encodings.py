"""Every encoding of a key the scrubber must catch (issue 21): any letter case, fully or partly
percent-encoded (either hex case), JSON `\\uXXXX`-escaped (every character or some, the backslash
escaped again), base64 at every byte offset in both alphabets, and a key split over stream
events into pieces shorter than the cut minimum. Each case also runs with the scrubber off, to
show the needle is really there: a case that cannot fail proves nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from harness import scrub
from harness.scrub import SCRUBBED, Scrubber

# Its base64 holds '+' or '/' at every byte offset, so the two alphabets differ: a scrubber that
# searched only the standard one, or only offset 0, lets a form through.
KEY = "glm-test-PLANTED-0123456789abcdef.Pl4ntedS3cretHalf9xyz~~~"
SECRET = KEY.split(".")[1]


def percent(text: str, hexcase: str = "X") -> str:
    return "".join(f"%{b:02{hexcase}}" for b in text.encode())


def json_escaped(text: str, every: int = 1) -> str:
    return "".join(f"\\u{ord(c):04x}" if i % every == 0 else c for i, c in enumerate(text))


ENCODINGS: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "lower case": str.lower,
    "percent-encoded, upper hex": percent,
    "percent-encoded, lower hex": lambda k: percent(k, "x"),
    "percent-encoded, one character in three": lambda k: "".join(
        percent(c) if i % 3 == 0 else c for i, c in enumerate(k)),
    "JSON-escaped, every character": json_escaped,
    "JSON-escaped, one character in four": lambda k: json_escaped(k, 4),
    "JSON-escaped in upper hex": lambda k: "".join(f"\\u{ord(c):04X}" for c in k),
    "JSON-escaped, written into a JSON string again": lambda k: json.dumps(json_escaped(k))[1:-1],
}


@pytest.mark.parametrize("secret", [KEY, SECRET], ids=["key", "secret half"])
@pytest.mark.parametrize("name", list(ENCODINGS))
def test_an_encoded_key_is_scrubbed(name: str, secret: str) -> None:
    encoded = ENCODINGS[name](secret)
    text = f'{{"message": "you sent {encoded} (rejected)"}}'
    scrubber = Scrubber([KEY])
    cleaned = scrubber.scrub_text(text)
    assert SCRUBBED in cleaned and encoded not in cleaned, cleaned
    assert cleaned.startswith('{"message": "you sent') and cleaned.endswith('(rejected)"}')
    with scrub.disabled():
        assert scrubber.scrub_text(text) == text


def _core(encoded: bytes, offset: int, length: int) -> str:
    """The characters of a blob's base64 that depend on the secret's bytes alone."""
    return encoded.decode()[4 if offset else 0:(offset + length) // 3 * 4]


@pytest.mark.parametrize("secret", [KEY, SECRET], ids=["key", "secret half"])
@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("alphabet", ["standard", "url-safe"])
def test_base64_of_a_blob_holding_the_key_at_any_offset_in_either_alphabet(
        secret: str, offset: int, alphabet: str) -> None:
    blob = b"{" * offset + secret.encode() + b"}tail"
    encode = base64.b64encode if alphabet == "standard" else base64.urlsafe_b64encode
    other = base64.urlsafe_b64encode if alphabet == "standard" else base64.b64encode
    encoded = encode(blob).decode()
    core = _core(encode(blob), offset, len(secret))
    assert core != _core(other(blob), offset, len(secret)), "the two alphabets must differ here"
    cleaned = Scrubber([KEY]).scrub_text(f"blob: {encoded} end")
    assert core not in cleaned and SCRUBBED in cleaned, cleaned
    # what is left around the replaced core cannot be decoded back to a 16-character piece
    assert all(piece not in cleaned for piece in (core[:16], core[-16:]))


@pytest.mark.parametrize("size", [1, 3, 5, 8, 15])
def test_a_key_split_over_stream_pieces_is_scrubbed_from_each(size: int) -> None:
    pieces = ["Hello, ", *(KEY[i:i + size] for i in range(0, len(KEY), size)), " bye"]
    cleaned = Scrubber([KEY]).scrub_pieces(pieces)
    assert len(cleaned) == len(pieces)
    assert cleaned[0] == "Hello, " and cleaned[-1] == " bye"
    assert "".join(cleaned) == f"Hello, {SCRUBBED} bye"
    with scrub.disabled():
        assert Scrubber([KEY]).scrub_pieces(pieces) == pieces


def test_pieces_in_upper_case_and_pieces_without_a_key_are_kept() -> None:
    pieces = [KEY.upper()[i:i + 4] for i in range(0, len(KEY), 4)]
    assert "".join(Scrubber([KEY]).scrub_pieces(pieces)) == SCRUBBED
    plain = ["a", "short", " answer", " with no secret in it"]
    assert Scrubber([KEY]).scrub_pieces(plain) == plain


def test_text_with_escapes_but_no_key_is_left_as_it_is() -> None:
    text = 'caf\\u00e9 50%25 off, "\\u4f60\\u597d" and %2F paths'
    assert Scrubber([KEY]).scrub_text(text) == text


def test_a_transcript_of_a_stream_that_splits_the_key_holds_no_piece(tmp_path: object) -> None:
    from harness.client import Exchange, TimedEvent
    from harness.sse import ServerSentEvent
    from harness.targets import mock_target
    from harness.transcript import from_exchange

    chunks = []
    for n, i in enumerate(range(0, len(KEY), 6)):
        data = {"id": "x", "choices": [{"index": 0, "delta": {"content": KEY[i:i + 6]}}]}
        chunks.append((1.0 + n / 100, json.dumps(data)))
    exchange = Exchange(mock_target(), {"stream": True}, 1.0, url="https://x/chat/completions")
    exchange.status, exchange.headers = 200, {"content-type": "text/event-stream"}
    exchange.events = [TimedEvent(at, ServerSentEvent(data)) for at, data in chunks]
    exchange.chunks = [(at, f"data: {data}\n\n".encode()) for at, data in chunks]
    exchange.ended_at = 2.0
    text = from_exchange(exchange, Scrubber([KEY])).to_json()
    events = [json.loads(c["data"][6:]) for c in json.loads(text)["chunks"] if c["data"].startswith("data: {")]
    joined = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert joined == SCRUBBED, joined
    assert not any(KEY[i:i + 6] in text for i in range(0, len(KEY) - 6, 6))
