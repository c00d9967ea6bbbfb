"""Every address the README gives a newcomer answers on the demo, and shows what it promises.

The README's links are the first thing a newcomer clicks after ``make run``: each is followed
here on a freshly seeded demo, as a browser would (the pages) or a client (the JSON). The demo
season is dated March to November 2026, so the links that depend on the day (certificates
valid, the track record's twelve months) name their ``on``: followed on a later day they show
the same thing (a test run under a shifted clock, with libfaketime, checks it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.api_support import Api

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/[^\s<>`'\")]*)")
PRINTER = "Stamperia Grandate (demo)"  # the GOTS printer near Milan


def readme_paths() -> list[str]:
    return sorted(set(LINK.findall(README.read_text(encoding="utf-8"))))


def test_the_readme_gives_its_links() -> None:
    paths = readme_paths()
    assert len(paths) >= 15, paths  # the reader's tour: pages, items, lots, passports
    assert any(p.startswith("/directory?") for p in paths)
    assert any("/local-alternatives" in p for p in paths)


def test_every_readme_link_answers_on_the_demo(demo: Api) -> None:
    for path in readme_paths():
        answer = demo.client.get(path, follow_redirects=False)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])


def test_the_readme_directory_search_finds_the_printer(demo: Api) -> None:
    (search,) = [p for p in readme_paths() if p.startswith("/directory?")]
    page = demo.client.get(search).text
    assert PRINTER in page, page[:2000]


def test_the_readme_local_alternatives_offer_a_recycler_near_milan(demo: Api) -> None:
    (path,) = [p for p in readme_paths() if "/local-alternatives" in p]
    body = demo.client.get(path).json()
    offered = [a for step in body["far_steps"] for a in step["alternatives"]]
    assert offered, body
    assert all(c["valid"] for a in offered for c in a["certificates"]), offered
