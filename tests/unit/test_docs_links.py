"""The docs' links and code fences, as GitHub renders them.

Every relative link in README.md and docs/*.md names a file that exists and, after `#`, a
heading of that file by GitHub's anchor rules (lowercase; punctuation dropped; each space a
hyphen; a repeated heading gets -1, -2, ...). Code blocks are read as CommonMark reads them
(0.31, section 4.5): a fence closes only on a line of its own character, at least as long, with
nothing after it. A would-be closing fence with text after it closes nothing, and the page
below it renders as code with its headings gone, so such a line is refused too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

OPENING_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
CLOSING_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
CODE_SPAN = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
LINK = re.compile(r"\]\(([^()\s]+)\)")
NOT_IN_ANCHOR = re.compile(r"[^\w\- ]")


def _blocks(text: str) -> list[tuple[str, str | None]]:
    """Each line with the fence of the code block it is in (None: outside any)."""
    lines: list[tuple[str, str | None]] = []
    fence: str | None = None
    for line in text.splitlines():
        if fence is None:
            opening = OPENING_FENCE.match(line)
            # A backtick fence's info string holds no backtick (else the line is inline code).
            if opening and not (opening[1][0] == "`" and "`" in opening[2]):
                fence = opening[1]
                lines.append((line, None))
                continue
        else:
            closing = CLOSING_FENCE.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
                lines.append((line, None))
                continue
        lines.append((line, fence))
    return lines


def _prose(text: str) -> str:
    return "\n".join(line for line, fence in _blocks(text) if fence is None)


def anchor(heading: str) -> str:
    """The id GitHub gives a heading (before numbering repeats)."""
    return NOT_IN_ANCHOR.sub("", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in HEADING.findall(_prose(page.read_text(encoding="utf-8"))):
        base = anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    prose = CODE_SPAN.sub("", _prose(page.read_text(encoding="utf-8")))
    return [link for link in LINK.findall(prose) if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def test_anchor_follows_github_rules() -> None:
    assert anchor("Profile: an actor declares its directory profile") == (
        "profile-an-actor-declares-its-directory-profile"
    )
    assert anchor("`key`") == "key"
    assert anchor("EPCIS 2.0 export") == "epcis-20-export"
    assert anchor("HTTP load, several terminals, two workers (PostgreSQL)") == (
        "http-load-several-terminals-two-workers-postgresql"
    )


def test_text_after_a_closing_fence_keeps_the_block_open() -> None:
    text = "```\nspola key show\n``` Until then\n## Hidden\n```\n## Shown\n"
    assert [fence for _, fence in _blocks(text)] == [None, "```", "```", "```", None, None]
    assert HEADING.findall(_prose(text)) == ["Shown"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no file {path.relative_to(ROOT)}")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{link}: no heading #{fragment} in {path.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_code_block_swallows_the_page_below_it(page: Path) -> None:
    stray = [
        f"line {number}: {line.strip()[:60]}"
        for number, (line, fence) in enumerate(_blocks(page.read_text(encoding="utf-8")), 1)
        if fence is not None and line.lstrip().startswith(fence)
    ]
    assert not stray, f"{page.relative_to(ROOT)}: a fence with text after it closes nothing: " + (
        "; ".join(stray)
    )
