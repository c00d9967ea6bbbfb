"""The docs' links and code fences, as GitHub renders them, and what their code names.

Every relative link in README.md and docs/*.md names a file that exists and, after `#`, a
heading of that file by GitHub's anchor rules (lowercase; punctuation dropped; each space a
hyphen; a repeated heading gets -1, -2, ...). Code blocks are read as CommonMark reads them
(0.31, section 4.5): a fence closes only on a line of its own character, at least as long, with
nothing after it. A would-be closing fence with text after it closes nothing, and the page
below it renders as code with its headings gone, so such a line is refused too.

What the docs name in code (spans and code blocks) points somewhere too: a repository path
(`ledger/store/attest.py`) is a file or folder of the tree, a dotted name
(`passports.build.build_passport`) imports, an HTTP request (`GET /v1/passports/{path}`) is one
a route of the service answers, and docs/architecture.md, the map, names every module.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from api.main import create_app
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

OPENING_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
CLOSING_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
CODE_SPAN = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
LINK = re.compile(r"\]\(([^()\s]+)\)")
NOT_IN_ANCHOR = re.compile(r"[^\w\- ]")

PACKAGES = ("ledger", "api", "spola", "signer", "verifier", "passports", "scoring")
TOP = (*PACKAGES, "tests", "scripts", "bench", "migrations", "docs")
# A path of the tree in a code span; a pattern (`retired-….key`, `test_verifier*.py`) is not one.
TREE_PATH = re.compile(rf"(?<![\w./-])((?:{'|'.join(TOP)})/(?:[\w.-]+/)*[\w.-]*)(?![\w*…<{{])")
# A dotted name of a package's module or attribute: `ledger.store.passports.facts`.
# A name that goes on with `.`, `/` or `-` is a host or a file (`ledger.example.it/spola`).
DOTTED = re.compile(rf"(?<![\w./-])((?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+)(?![\w./-])")
FILE_SUFFIXES = (".py", ".md", ".json", ".db", ".dump", ".sh", ".toml")
REQUEST = re.compile(r"\b(GET|POST|HEAD|PUT|PATCH|DELETE) (/[^\s`\"),;]*)")
PLACEHOLDER = re.compile(r"\{[^}/]*\}|\.\.\.|…")
# A placeholder's stand-in: a passport's {path} is a Digital Link path, anything else a word.
SAMPLE_PATH = "01/08000000002020/21/I2WCYWNLMFBZJF7IAH3A"


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


# -- what the code spans name ------------------------------------------------------------------


def code_spans(page: Path) -> Iterator[tuple[int, str]]:
    """Each code span of the page's prose and each line of its code blocks, numbered."""
    for number, (line, fence) in enumerate(_blocks(page.read_text(encoding="utf-8")), 1):
        if fence is not None:
            yield number, line
        else:
            for span in CODE_SPAN.findall(line):
                yield number, span.strip("`")


def _imports(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or an attribute reached from the longest module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_tree_path_quoted_exists(page: Path) -> None:
    missing = [
        f"line {number}: {path}"
        for number, text in code_spans(page)
        for path in TREE_PATH.findall(text)
        if not (ROOT / path.rstrip("/")).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)}: no such file or folder: " + "; ".join(missing)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_dotted_name_quoted_imports(page: Path) -> None:
    missing = [
        f"line {number}: {name}"
        for number, text in code_spans(page)
        for name in DOTTED.findall(text)
        if not name.endswith(FILE_SUFFIXES) and not _imports(name)
    ]
    assert not missing, f"{page.relative_to(ROOT)}: names nothing the code has: " + "; ".join(
        missing
    )


def _without_options(quoted: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", quoted.split("?", maxsplit=1)[0])


def request_path(quoted: str) -> str:
    """The path of a quoted request as a client would send it: no query, optional parts
    (`[/10/{lot}]`) left out, each placeholder given a value."""
    path = _without_options(quoted).replace("{path}", SAMPLE_PATH)
    return PLACEHOLDER.sub("x1", path)


def template(quoted: str) -> str:
    """The quoted path (or a route's) with every placeholder written `{}`."""
    return PLACEHOLDER.sub("{}", _without_options(quoted))


def _matched(app: FastAPI, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def served(app: FastAPI, templates: set[tuple[str, str]], method: str, quoted: str) -> bool:
    """Whether a route answers the quoted request: one of the OpenAPI schema with that path, or,
    for the pages outside the schema, a route that matches it. A route ending in a catch-all
    (`/v1/passports/{pid:path}`) matches any tail, so a quoted path that ends in a word after a
    placeholder matches no more once that word is changed, or it is not served."""
    if (method, template(quoted)) in templates:
        return True
    path = request_path(quoted)
    if not _matched(app, method, path):
        return False
    ends_in_word = "{}" in template(quoted) and not template(quoted).endswith("{}")
    return not (ends_in_word and _matched(app, method, path + "-no-such-route"))


def _templates(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), template(path))
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    }


def test_request_path_reads_placeholders_and_options() -> None:
    assert request_path("/v1/passports/{path}/versions/{n}") == (
        f"/v1/passports/{SAMPLE_PATH}/versions/x1"
    )
    assert request_path("/01/{gtin}[/10/{lot}][/21/{serial}]") == "/01/x1"
    assert request_path("/v1/actors/{id}/circularity?method=&weighting=mass") == (
        "/v1/actors/x1/circularity"
    )
    assert template("/v1/passports/...") == "/v1/passports/{}"
    assert template("/v1/passports/{pid}/qr.png") == "/v1/passports/{}/qr.png"


def test_every_request_quoted_is_served() -> None:
    app = create_app(Settings())  # the routes only: no store is opened outside the lifespan
    templates = _templates(app)
    assert served(app, templates, "GET", "/companies/{slug}")  # a page outside the schema
    assert not served(app, templates, "GET", "/v1/no-such-thing")
    assert not served(app, templates, "POST", "/v1/log/key")  # that path takes another method
    assert not served(app, templates, "GET", "/v1/passports/{path}/qr.gif")  # a catch-all's tail
    unserved = [
        f"{page.relative_to(ROOT)}:{number}: {method} {path}"
        for page in PAGES
        for number, text in code_spans(page)
        for method, path in REQUEST.findall(text)
        if not served(app, templates, method, path)
    ]
    assert not unserved, "no route answers: " + "; ".join(unserved)


def _modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )


def named_in_map(module: Path, text: str) -> bool:
    """Whether the architecture map names ``module``: by its path, or by its file name on a line
    that names its folder (`ledger/store/schema.py` … `engine.py`; `verifier/` … `steps.py`)."""
    if f"`{module.as_posix()}`" in text:
        return True
    folder = module.parent.as_posix()
    folder_named = re.compile(rf"`{re.escape(folder)}/(?:[\w.-]+\.py)?`")
    return any(
        f"`{module.name}`" in line and folder_named.search(line) for line in text.splitlines()
    )


def test_named_in_map_reads_folder_rows() -> None:
    row = (
        "| `ledger/store/schema.py` | tables; `engine.py` engines; `sequencer.py` the append path |"
    )
    assert named_in_map(Path("ledger/store/engine.py"), row)
    assert not named_in_map(Path("ledger/engine.py"), row)
    assert named_in_map(Path("verifier/steps.py"), "| `verifier/` | `steps.py` the steps |")
    assert not named_in_map(Path("api/deps.py"), "| `api/main.py` | `create_app` |")


def test_the_architecture_map_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [module.as_posix() for module in _modules() if not named_in_map(module, text)]
    assert not missing, "docs/architecture.md does not name: " + ", ".join(missing)
