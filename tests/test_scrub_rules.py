"""Each rule of the scrubber on its own, with the exact text it leaves: credential headers,
marked fields, the secrets it knows and registers, bytes that are not UTF-8, cut secrets, bare
JWTs and bearer tokens (what mutation testing of harness/scrub.py showed the end-to-end leak
tests let through)."""

from __future__ import annotations

import pytest

from harness import scrub
from harness.scrub import SCRUBBED, Scrubber, known_secrets, register, register_userinfo, scrub_text
from harness.targets import Secret, mock_target

KEY = "0123456789abcdef.Zq8vLm2Rt5Wx9Yc3Kd7"  # <id>.<secret>, as Z.ai issues them


@pytest.fixture(autouse=True)
def _no_known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scrub, "_registered", set())
    monkeypatch.delenv("ZAI_API_KEY", raising=False)


@pytest.mark.parametrize(("value", "expected"), [
    ("Bearer abc123", f"Bearer {SCRUBBED}"),
    ("BEARER abc123", f"BEARER {SCRUBBED}"),
    ("Basic dXNlcjpwYXNz", f"Basic {SCRUBBED}"),
    ("  Bearer a b  ", f"Bearer {SCRUBBED}"),  # the scheme is the first word, not all but the last
    ("Token abc123", SCRUBBED),  # an unknown scheme goes whole
    ("Bearer", SCRUBBED),  # no credential after it: nothing worth keeping
    ("sk-abc123", SCRUBBED),
])
def test_a_credential_header_keeps_only_a_known_scheme(value: str, expected: str) -> None:
    assert Scrubber().scrub_headers({"Authorization": value}) == {"Authorization": expected}


def test_headers_lose_credentials_and_marked_fields_and_keep_the_rest_scrubbed() -> None:
    scrubber = Scrubber([KEY], ["request_id"])
    headers = {"X-Api-Key": KEY, "X-Request-Id": "req-1", "Content-Type": "application/json",
               "X-Note": f"echo {KEY}", "X-User-Id": "u-42"}
    assert scrubber.scrub_headers(headers) == {
        "X-Api-Key": SCRUBBED, "X-Request-Id": SCRUBBED, "Content-Type": "application/json",
        "X-Note": f"echo {SCRUBBED}", "X-User-Id": "u-42"}  # user_id was not marked


def test_json_values_lose_credentials_marked_fields_and_secrets_at_any_depth() -> None:
    scrubber = Scrubber([KEY], ["user_id"])
    value = {"Authorization": "Bearer xyz", "authorization": 5, "user_id": "u-1", "keep": "plain",
             "nested": [{"user_id": None, "note": f"key {KEY}"}, 3, f"{KEY}"], 7: "seven"}
    assert scrubber.scrub_json(value) == {
        "Authorization": f"Bearer {SCRUBBED}", "authorization": 5, "user_id": SCRUBBED, "keep": "plain",
        "nested": [{"user_id": None, "note": f"key {SCRUBBED}"}, 3, SCRUBBED], 7: "seven"}


def test_sensitive_values_are_found_at_any_depth_in_order() -> None:
    scrubber = Scrubber([], ["user_id", "request_id"])
    value = {"a": {"user_id": "u1"}, "user_id": 5, "list": [{"request_id": "r1"}, "x"], "other": "o"}
    assert scrubber.sensitive_values(value) == ["u1", "r1"]


def test_with_values_scrubs_values_of_six_characters_and_more_and_keeps_the_fields() -> None:
    base = Scrubber([], ["user_id"])
    assert base.with_values([]) is base and base.with_values(["abc"]) is base
    extended = base.with_values(["abcdef", "abc", 7])  # type: ignore[list-item]
    assert extended.scrub_text("x abcdef abc") == f"x {SCRUBBED} abc"
    assert extended.sensitive_fields == frozenset({"user_id"})


def test_register_takes_values_of_eight_characters_and_more_stripped() -> None:
    register("seven77")
    register(None)
    register("  eight888  ")
    register(Secret("a-secret-value"))
    assert known_secrets() == ["a-secret-value", "eight888"]


def test_register_userinfo_takes_the_password_as_written_and_decoded_and_the_whole_userinfo() -> None:
    register_userinfo("justauser")
    register_userinfo("user:")
    assert known_secrets() == []
    register_userinfo("user:pass:w%40rd12345")
    assert set(known_secrets()) == {"pass:w%40rd12345", "pass:w@rd12345", "user:pass:w%40rd12345@"}


def test_known_secrets_gathers_the_target_the_environment_and_the_registered_longest_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert known_secrets() == []  # no "" nor any placeholder for an unset variable
    monkeypatch.setenv("ZAI_API_KEY", " zzzzzzzzz ")
    monkeypatch.setenv("OTHER_KEY", "yyyyyyyyyyyyyyyy")
    register("aaaaaaaaaaaa")
    target = mock_target()
    assert target.api_key is not None
    twin_key = target.api_key.reveal()
    found = known_secrets(target, ["OTHER_KEY"])
    assert set(found) == {twin_key, "zzzzzzzzz", "yyyyyyyyyyyyyyyy", "aaaaaaaaaaaa"}
    assert [len(v) for v in found] == sorted((len(v) for v in found), reverse=True)
    assert found.index("aaaaaaaaaaaa") < found.index("zzzzzzzzz")  # by length, not alphabet
    assert twin_key in Scrubber.for_target(target).secrets
    assert "yyyyyyyyyyyyyyyy" in Scrubber.for_target(None, env_names=["OTHER_KEY"]).secrets


def test_bytes_that_are_not_utf8_pass_through_around_a_scrubbed_secret() -> None:
    scrubber = Scrubber([KEY])
    assert scrubber.scrub_bytes(b"\xff key=" + KEY.encode() + b" \xfe") == b"\xff key=" + SCRUBBED.encode() + b" \xfe"
    assert scrubber.scrub_bytes(b"\xff nothing here") == b"\xff nothing here"


def test_a_secret_cut_at_either_end_is_still_scrubbed() -> None:
    scrubber = Scrubber([KEY])
    head, tail = KEY[:20], KEY[-20:]
    assert scrubber.scrub_text(f"excerpt: {head}") == f"excerpt: {SCRUBBED}"
    assert scrubber.scrub_text(f"{tail} (cut)") == f"{SCRUBBED} (cut)"


def test_a_bare_jwt_and_a_bearer_token_are_scrubbed_without_knowing_any_secret() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop"
    assert Scrubber().scrub_text(f"token={jwt};") == f"token={SCRUBBED};"
    assert Scrubber().scrub_text("auth: Bearer  abcdefgh12345 end") == f"auth: Bearer  {SCRUBBED} end"
    assert Scrubber().scrub_text("curl -H 'Bearer $ZAI_API_KEY'") == "curl -H 'Bearer $ZAI_API_KEY'"


def test_a_marked_field_in_raw_json_text_is_scrubbed() -> None:
    text = '{"user_id": "abc", "x": 1}'
    assert Scrubber([], ["user_id"]).scrub_text(text) == f'{{"user_id": "{SCRUBBED}", "x": 1}}'


def test_the_shorthand_takes_plain_and_secret_values() -> None:
    assert scrub_text(f"a {KEY} b", "plainsecret123") == f"a {KEY} b"  # not a secret it was given
    assert scrub_text(f"a plainsecret123 {KEY} b", "plainsecret123", Secret(KEY)) == f"a {SCRUBBED} {SCRUBBED} b"


def test_marked_fields_come_as_one_text_or_a_list() -> None:
    assert scrub.parse_fields("user_id, request_id,") == frozenset({"user_id", "request_id"})
    assert scrub.parse_fields(["user_id", " request_id ", ""]) == frozenset({"user_id", "request_id"})
    assert scrub.parse_fields(None) == frozenset() and scrub.parse_fields("") == frozenset()
