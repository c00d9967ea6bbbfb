"""``api.paths``: the path routes see keeps ``%2F``, ``%25``, ``%3F`` and ``%23`` and decodes
the rest once."""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import given
from hypothesis import strategies as st

from api.paths import path_keeping_slashes


def test_slashes_and_percents_stay_encoded_the_rest_is_decoded() -> None:
    raw = b"/01/09506000134352/10/A%3c1%3E/21/S%2f1%2541%C3%A9"
    assert path_keeping_slashes(raw) == "/01/09506000134352/10/A<1>/21/S%2F1%2541\u00e9"


def test_question_marks_and_hashes_stay_encoded() -> None:
    # A value's own '?' or '#', decoded here, would end the path for the Digital Link parser.
    raw = b"/01/09506000134352/10/L%23x/21/Q%3f1%3F"
    assert path_keeping_slashes(raw) == "/01/09506000134352/10/L%23x/21/Q%3F1%3F"


def test_a_path_that_is_not_ascii_is_left_to_the_server() -> None:
    assert path_keeping_slashes("/01/caf\u00e9".encode()) is None


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5))
def test_each_segment_decodes_to_what_the_client_encoded(segments: list[str]) -> None:
    raw = ("/" + "/".join(quote(s, safe="") for s in segments)).encode("ascii")
    path = path_keeping_slashes(raw)
    assert path is not None
    assert [unquote(part) for part in path.split("/")[1:]] == segments
