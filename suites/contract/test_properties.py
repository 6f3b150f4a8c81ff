"""Property-based requests drawn from the contract: valid ones must succeed and conform; each
broken bound must be refused with the business code the contract names."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.strategies import invalid_requests, valid_requests

from ._requests import ONLY_OPENAI

pytestmark = ONLY_OPENAI  # the strategies draw chat-completions requests


@settings(settings.get_profile("glm-harness"))
@given(data=st.data())
def test_valid_requests_succeed(glm_client, glm_check, card, data) -> None:
    glm_check(glm_client.send(data.draw(valid_requests(card), label="request")))


@settings(settings.get_profile("glm-harness"))
@given(data=st.data())
def test_invalid_requests_are_refused_with_the_contract_code(glm_client, glm_check, known_card, data) -> None:
    broken = data.draw(invalid_requests(known_card), label="request")
    glm_check(glm_client.send(broken.body), status=400, code=broken.expected_code)
