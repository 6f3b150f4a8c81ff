"""The twin's tokenizer: lossless, and the one rule every token count follows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.mock.tokens import count_tokens, tokenize


@given(st.text())
def test_tokenize_round_trips(text: str) -> None:
    assert "".join(tokenize(text)) == text


@given(st.text())
def test_count_tokens_is_the_number_of_pieces(text: str) -> None:
    pieces = tokenize(text)
    assert count_tokens(text) == len(pieces)
    assert all(pieces)  # no empty piece
    assert (count_tokens(text) == 0) == (text == "")


@given(st.text(), st.text())
def test_count_tokens_bounded_by_length(a: str, b: str) -> None:
    assert count_tokens(a) <= len(a)
    assert count_tokens(a + b) <= len(a) + len(b)


@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=8), min_size=1))
def test_short_words_are_one_token_each(words: list[str]) -> None:
    text = " ".join(words)
    assert count_tokens(text) == len(words)
    assert tokenize(text) == [words[0]] + [" " + w for w in words[1:]]


@given(st.text())
def test_only_the_last_piece_may_be_whitespace(text: str) -> None:
    pieces = tokenize(text)
    assert all(not piece.isspace() for piece in pieces[:-1])


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("", []),
        ("Hello, world!", ["Hello", ",", " world", "!"]),
        ("abcdefghij", ["abcdefgh", "ij"]),
        ("don't", ["don't"]),
        ("a  \n", ["a", "  \n"]),
        ("\n\nx", ["\n\nx"]),
        ('{"a":2}', ["{", '"', "a", '"', ":", "2", "}"]),
        ("你好世界", ["你好世界"]),
    ],
)
def test_tokenize_examples(text: str, pieces: list[str]) -> None:
    assert tokenize(text) == pieces
