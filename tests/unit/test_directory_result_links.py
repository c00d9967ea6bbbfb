"""The search page links each result to its profile with the actor id quoted into the path.

Registration admits only ``urn:spola:actor:`` and a slug of lowercase letters, digits and
'-' (``ledger.events.ActorId``), so no registered id holds a character that could end the
path; the page quotes the id anyway, so that a result can never carry a query, a fragment or
an attribute of its own.
"""

from __future__ import annotations

from dataclasses import asdict

from api.directory_page import render_directory
from api.directory_query import Filters


def _page(actor: str, on: str | None = None) -> str:
    match = {"actor": actor, "name": "Mill", "town": None, "region": None,
             "distance_km": None, "score": "0.5", "record_complete": True,
             "process": None, "certificates": []}  # fmt: skip
    answer = {"on": "2026-11-26", "matched": 1, "matches": [match]}
    return render_directory(asdict(Filters(on=on)), answer, None, "en", limit=100)


def test_a_registered_actor_id_is_linked_as_it_reads() -> None:
    page = _page("urn:spola:actor:stamperia-grandate", on="2026-11-26")
    assert 'href="/directory/urn:spola:actor:stamperia-grandate?on=2026-11-26&amp;lang=en"' in page


def test_an_actor_id_cannot_end_the_path_of_its_link() -> None:
    page = _page('urn:spola:actor:a?lang=it#x" onclick="y/../z%2F')
    quoted = "urn:spola:actor:a%3Flang%3Dit%23x%22%20onclick%3D%22y%2F..%2Fz%252F"
    assert f'href="/directory/{quoted}?lang=en"' in page
