"""The command lines the docs quote are ones the code accepts.

README.md and docs/*.md quote ``spola …`` and ``python -m verifier …`` command lines, in shell
code blocks and in inline code (tables included), ``make`` targets and ``SPOLA_*`` settings.
Each subcommand a quote names must be one the argparse parser has, each ``--option`` quoted
with it an option of that subcommand, each ``make`` target a target of the Makefile, and each
``SPOLA_*`` name one the code reads. The parsers are built in-process; nothing is run.

A quote is read as the shell and a reader would read it: ``register|update`` names two subcommands;
``[--x X]`` is an optional option; ``<the key>``, ``"quoted text"`` and ``UPPER`` words are
placeholders; in a table ``\\|`` is a ``|``; a ``|`` between spaces outside brackets, ``;``,
``&``, ``)``, ``>`` and a backtick end the command; a line ending in ``\\`` goes on.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from spola.cli import build_parser
from verifier.cli import add_arguments

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = frozenset({"", "sh", "bash", "shell", "console"})
# Inline code that reads like a command line and is not one.
NOT_COMMANDS = frozenset({"spola verdicts v2"})  # a verdicts note's first line (docs/bundle.md)

# Options of other tools that the docs quote alone: pytest-xdist's, in README.md.
OTHER_OPTIONS = frozenset({"--dist"})

OPENING_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
PROGRAM = re.compile(
    r"(?:^|(?<=[\s(`\"])|(?<=bin/))(spola|python3? -m verifier|make)(?=\s|$)", re.MULTILINE
)
LEADING = re.compile(r"(?:[A-Z][A-Z0-9_]*=\S*\s+)*(?:\S*/)?")  # VAR=value … .venv/bin/
COMMENT = re.compile(r"(?:^|(?<=\s))#.*$", re.MULTILINE)
WORDS = re.compile(r"[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*")  # a subcommand, or alternatives
OPTION = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")
TARGET = re.compile(r"[A-Za-z0-9][\w.-]*")
SETTING = re.compile(r"\bSPOLA_[A-Z0-9_]*[A-Z0-9]\b")


@dataclass(frozen=True)
class Quote:
    """Text quoted as code: a code span, or a (continued) line of a shell code block."""

    page: str
    line: int
    text: str
    in_block: bool = False  # a line of a shell code block: commands in it are given in full


@dataclass(frozen=True)
class Command:
    """One command line in a quote: the program and the words after it, up to its end."""

    quote: Quote
    program: str
    words: tuple[str, ...]
    whole: bool = False  # starts a shell code block's line: to be typed as it is

    def where(self) -> str:
        return f"{self.quote.page}:{self.quote.line}: `{' '.join((self.program, *self.words))}`"


def _spans(page: str, first: int, lines: list[str]) -> Iterator[Quote]:
    """The code spans of a paragraph (a span may go on to the next line) or of a table row."""
    text = "\n".join(lines)
    table = text.lstrip().startswith("|")
    for span in CODE_SPAN.finditer(text):
        code = " ".join(span[2].split())  # a line ending in a span is a space (CommonMark 6.1)
        line = first + text.count("\n", 0, span.start())
        yield Quote(page, line, code.replace("\\|", "|") if table else code)


def quotes(page: str, text: str) -> Iterator[Quote]:
    """The code spans outside code blocks and the lines of shell code blocks, numbered."""
    fence: str | None = None
    info = ""
    paragraph: list[str] = []
    first = 0  # the paragraph's first line
    pending: tuple[int, str] | None = None  # a shell line continued with a backslash
    for number, line in enumerate([*text.splitlines(), ""], 1):
        if fence is None:
            opening = OPENING_FENCE.match(line)
            if opening or not line.strip() or line.lstrip().startswith("|"):
                yield from _spans(page, first, paragraph)
                paragraph = []
            if opening:
                fence, info = opening[1], opening[2].lower()
            elif line.lstrip().startswith("|"):
                yield from _spans(page, number, [line])  # a table row is a block of its own
            elif line.strip():
                first = first if paragraph else number
                paragraph.append(line)
            continue
        if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
            continue
        if info not in SHELL_FENCES:
            continue
        start, before = pending if pending else (number, "")
        code = COMMENT.sub("", line).rstrip()
        if code.endswith("\\"):
            pending = (start, before + code[:-1] + " ")
            continue
        pending = None
        yield Quote(page, start, before + code, in_block=True)


def _command_end(rest: str) -> list[str]:
    """The words of the command that ``rest`` goes on with; quoted text and ``<…>`` one word."""
    kept: list[str] = []
    i, depth = 0, 0
    while i < len(rest):
        c = rest[i]
        if c in "\"'" or (c == "<" and rest[i + 1 : i + 2].strip()):
            close = rest.find(">" if c == "<" else c, i + 1)
            if close < 0:
                break
            kept.append(" VALUE ")
            i = close + 1
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(depth - 1, 0)
        elif depth == 0 and (
            c in ");&>`" or (c == "|" and (rest[i - 1 : i].isspace() or rest[i + 1 : i + 2] == " "))
        ):
            break
        kept.append(c)
        i += 1
    return "".join(kept).split()


def commands(quote: Quote) -> Iterator[Command]:
    if quote.text in NOT_COMMANDS:
        return
    for found in PROGRAM.finditer(quote.text):
        program = " ".join(found[1].split())
        words = tuple(_command_end(quote.text[found.end() :]))
        whole = quote.in_block and LEADING.fullmatch(quote.text[: found.start()]) is not None
        yield Command(quote, program, words, whole)


def doc_quotes() -> Iterator[Quote]:
    for page in PAGES:
        yield from quotes(str(page.relative_to(ROOT)), page.read_text(encoding="utf-8"))


def doc_commands() -> list[Command]:
    return [command for quote in doc_quotes() for command in commands(quote)]


# -- the parsers -------------------------------------------------------------------------------


def verifier_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verifier")
    add_arguments(parser)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def option_strings(parser: argparse.ArgumentParser, path: Sequence[str] = ()) -> set[str]:
    """The option strings (``--db``, ``-h`` …) of the subcommand ``path`` of ``parser``."""
    for word in path:
        parser = subcommands(parser)[word]
    return {option for action in parser._actions for option in action.option_strings}


Node = tuple[tuple[str, ...], argparse.ArgumentParser]  # a subcommand path and its parser


def _walk(
    parser: argparse.ArgumentParser, command: Command
) -> tuple[list[Node], list[str], list[str]]:
    """The subcommands ``command`` reaches, the words after them, and what it names that
    ``parser`` has no subcommand for."""
    found: list[str] = []
    nodes: list[Node] = [((), parser)]
    words = list(command.words)
    while words and WORDS.fullmatch(words[0]) and all(subcommands(p) for _, p in nodes):
        word = words.pop(0)
        reached = []
        for path, node in nodes:
            choices = subcommands(node)
            for name in word.split("|"):
                if name in choices:
                    reached.append(((*path, name), choices[name]))
                else:
                    found.append(
                        f"{' '.join((command.program, *path))} has no subcommand {name!r} "
                        f"(it has {', '.join(sorted(choices))})"
                    )
        nodes = reached
    return nodes, words, found


def problems(parser: argparse.ArgumentParser, command: Command) -> list[str]:
    """What in ``command`` ``parser`` does not accept: a subcommand, an option."""
    nodes, words, found = _walk(parser, command)
    options = OPTION.findall(" ".join(words))
    for path, node in nodes:
        known = option_strings(node)
        found += [
            f"{' '.join((command.program, *path))} has no option {option} "
            f"(it has {', '.join(sorted(o for o in known if o.startswith('--')))})"
            for option in options
            if option not in known
        ]
        found += _bad_choices(" ".join((command.program, *path)), node, words)
    return found


def _bad_choices(name: str, parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """Values quoted after an option with choices (``--tier brand|operator``) that it refuses;
    an upper-case placeholder (``--state S``) is not a value."""
    choices = {
        option: {str(choice) for choice in action.choices}
        for action in parser._actions
        if action.choices is not None and not isinstance(action, argparse._SubParsersAction)
        for option in action.option_strings
    }
    found = []
    for before, after in pairwise(words):
        option, value = before.lstrip("["), after.rstrip("]")
        allowed = choices.get(option)
        if allowed is not None and WORDS.fullmatch(value.replace("_", "-")):
            takes = ", ".join(sorted(allowed))
            found += [
                f"{name} {option} refuses {given!r} (it takes {takes})"
                for given in value.split("|")
                if given not in allowed
            ]
    return found


def incomplete(parser: argparse.ArgumentParser, command: Command) -> list[str]:
    """What a command given in full lacks: the subcommand a group needs, a required option."""
    nodes, words, _ = _walk(parser, command)
    options = set(OPTION.findall(" ".join(words)))
    found = []
    for path, node in nodes:
        name = " ".join((command.program, *path))
        if any(isinstance(a, argparse._SubParsersAction) and a.required for a in node._actions):
            found.append(
                f"{name} needs a subcommand (one of {', '.join(sorted(subcommands(node)))})"
            )
        found += [
            f"{name} needs {action.option_strings[-1]}"
            for action in node._actions
            if action.required and action.option_strings
            if not options & set(action.option_strings)
        ]
    return found


def make_targets(makefile: str) -> set[str]:
    targets = set(re.findall(r"^([A-Za-z0-9][\w.-]*)[ \t]*:(?!=)", makefile, re.MULTILINE))
    for phony in re.findall(r"^\.PHONY[ \t]*:(.*)$", makefile, re.MULTILINE):
        targets.update(phony.split())
    return targets


def make_problems(targets: set[str], command: Command) -> list[str]:
    named = []
    for word in command.words:
        if not TARGET.fullmatch(word):
            break
        named.append(word)
    return [f"the Makefile has no target {name!r}" for name in named if name not in targets]


def _code_files() -> Iterator[Path]:
    """The source tree's Python files (no .venv, no caches), the Makefile and .ci/run."""
    for top in sorted(ROOT.iterdir()):
        if top.is_dir() and not top.name.startswith(".") and top.name != "docs":
            yield from sorted(top.rglob("*.py"))
    yield ROOT / "Makefile"
    yield ROOT / ".ci" / "run"


def settings_in_code() -> set[str]:
    names: set[str] = set()
    for path in _code_files():
        if path.resolve() != Path(__file__).resolve():
            names.update(SETTING.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


# -- the docs against the code -----------------------------------------------------------------


def test_every_spola_command_the_docs_quote_is_accepted() -> None:
    parser = build_parser()
    quoted = [c for c in doc_commands() if c.program == "spola"]
    wrong = [f"{c.where()}: {p}" for c in quoted for p in problems(parser, c)]
    assert not wrong, "\n".join(wrong)


def test_every_verifier_command_the_docs_quote_is_accepted() -> None:
    parser = verifier_parser()
    quoted = [c for c in doc_commands() if c.program.endswith("-m verifier")]
    assert quoted, "no `python -m verifier` quoted: is the reader of the docs broken?"
    wrong = [f"{c.where()}: {p}" for c in quoted for p in problems(parser, c)]
    assert not wrong, "\n".join(wrong)


def test_every_make_target_the_docs_quote_exists() -> None:
    targets = make_targets((ROOT / "Makefile").read_text(encoding="utf-8"))
    quoted = [c for c in doc_commands() if c.program == "make"]
    assert quoted, "no `make` target quoted: is the reader of the docs broken?"
    wrong = [f"{c.where()}: {p}" for c in quoted for p in make_problems(targets, c)]
    assert not wrong, "\n".join(wrong)


def test_every_spola_setting_the_docs_name_is_read_by_the_code() -> None:
    known = settings_in_code()
    wrong = [
        f"{page.relative_to(ROOT)}:{number}: {name} is named but no code reads it"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        for name in SETTING.findall(line)
        if name not in known
    ]
    assert not wrong, "\n".join(wrong)


def test_every_command_a_shell_block_gives_has_what_it_needs() -> None:
    # A line of a shell code block is typed as it is: a subcommand group alone or a missing
    # required option (`spola export bundle` without --out) is an error, not a command.
    spola, verifier = build_parser(), verifier_parser()
    wrong = [
        f"{c.where()}: {p}"
        for c in doc_commands()
        if c.whole and c.program != "make"
        for p in incomplete(verifier if c.program.endswith("verifier") else spola, c)
    ]
    assert not wrong, "\n".join(wrong)


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    found = option_strings(parser)
    for child in subcommands(parser).values():
        found |= _all_options(child)
    return found


def test_every_option_quoted_alone_is_an_option_of_some_command() -> None:
    # `--time` in prose: a spola or verifier option, or one a bench script defines.
    known = _all_options(build_parser()) | option_strings(verifier_parser()) | OTHER_OPTIONS
    for script in sorted((ROOT / "bench").glob("*.py")):
        known.update(re.findall(r"[\"'](--[a-z0-9-]+)[\"']", script.read_text(encoding="utf-8")))
    wrong = [
        f"{quote.page}:{quote.line}: `{quote.text}`: no command has the option {option}"
        for quote in doc_quotes()
        if quote.text.startswith("--")
        for option in OPTION.findall(quote.text)
        if option not in known
    ]
    assert not wrong, "\n".join(wrong)


def test_the_readme_command_table_is_read() -> None:
    # The reader finds the table's commands, alternatives and bracketed options: a reader that
    # found nothing would pass every test above.
    parser = build_parser()
    readme = [c for c in doc_commands() if c.quote.page == "README.md" and c.program == "spola"]
    words = {c.words[:2] for c in readme}
    assert {("export", "bundle"), ("actor", "register|update"), ("queue", "drop")} <= words
    bundle = next(c for c in readme if c.words[:2] == ("export", "bundle") and len(c.words) > 4)
    assert {"--out", "--since-checkpoint", "--item", "--actor"} <= set(
        OPTION.findall(" ".join(bundle.words))
    )
    assert all(not problems(parser, c) for c in readme)


# -- the reader itself -------------------------------------------------------------------------


def _read(text: str, page: str = "docs/x.md") -> list[Command]:
    return [c for quote in quotes(page, text) for c in commands(quote)]


def test_table_alternatives_and_escaped_bars_are_read() -> None:
    [command] = _read("| `spola actor register\\|update --from F [--db URL \\| --x]` | does |\n")
    assert command.words == ("actor", "register|update", "--from", "F", "[--db", "URL", "|", "--x]")
    wrong = problems(build_parser(), command)
    assert wrong == [
        "spola actor register has no option --x (it has --db, --from, --help)",
        "spola actor update has no option --x (it has --db, --from, --help)",
    ]


def test_a_pipe_a_redirect_a_comment_and_a_substitution_end_a_command() -> None:
    text = (
        "```sh\n"
        "spola log key > log.vkey   # --not-an-option\n"
        'spola verify b --log-key "$(.venv/bin/spola log key --bogus)" | head --lines 3\n'
        "```\n"
    )
    found = [(c.quote.line, c.words) for c in _read(text)]
    assert found == [
        (2, ("log", "key")),
        (3, ("verify", "b", "--log-key", "VALUE")),
        (3, ("log", "key", "--bogus")),
    ]


def test_continued_lines_are_one_command_at_its_first_line() -> None:
    text = "text\n```\nspola sign material --lot L \\\n    --quantity 1 --colour red\n```\n"
    [command] = _read(text)
    assert problems(build_parser(), command) == [
        "spola sign material has no option --colour (it has --facility, --from, --help, "
        "--home, --lot, --material, --quantity, --time, --unit)"
    ]
    assert command.where().startswith("docs/x.md:3: `spola sign material")


def test_a_code_span_may_go_on_to_the_next_line() -> None:
    text = "Run `spola actor update\n--from F --frm G` or\n\n`spola log\nkey`.\n"
    found = [(c.quote.line, c.words) for c in _read(text)]
    assert found == [(1, ("actor", "update", "--from", "F", "--frm", "G")), (4, ("log", "key"))]


def test_a_block_command_without_a_required_option_is_incomplete() -> None:
    text = (
        "```sh\nSPOLA_HOME=h .venv/bin/spola export bundle --item P   # no --out\nspola key\n```\n"
    )
    first, second = _read(text)
    assert first.whole and second.whole
    assert incomplete(build_parser(), first) == ["spola export bundle needs --out"]
    assert incomplete(build_parser(), second) == [
        "spola key needs a subcommand (one of generate, rotate, show)"
    ]
    [prose] = _read("`spola export bundle` writes it\n")
    assert not prose.whole


def test_json_blocks_and_prose_are_not_commands() -> None:
    text = (
        '```json\n{"note": "spola verdicts v2"}\n```\nspola names its things; `spola[verifier]`\n'
    )
    assert _read(text) == []


@pytest.mark.parametrize(
    ("quoted", "want"),
    [
        ("spola rebuid", "spola has no subcommand 'rebuid'"),
        ("spola log key --db U --out F", "spola log key has no option --out"),
        ("spola key|sign|syncc", "spola has no subcommand 'syncc'"),
        ("python -m verifier b --log-key K --trusted-checkpoints F", "has no option"),
    ],
)
def test_drift_is_reported_with_page_and_line(quoted: str, want: str) -> None:
    [command] = _read(f"line one\n`{quoted}`\n")
    parser = verifier_parser() if command.program.endswith("verifier") else build_parser()
    [problem] = problems(parser, command)
    assert want in problem
    assert command.where() == f"docs/x.md:2: `{quoted}`"


def test_a_value_an_option_refuses_is_reported() -> None:
    parser = build_parser()
    [command] = _read("`spola queue [--state pending|sent] [--limit N]`\n")
    assert problems(parser, command) == [
        "spola queue --state refuses 'sent' (it takes applied, not_applied, pending)"
    ]
    [command] = _read("| `spola token create --tier brand\\|operator --actor A` |\n")
    assert problems(parser, command) == []
    [command] = _read("`spola token create --tier T`\n")  # a placeholder
    assert problems(parser, command) == []


def test_a_missing_make_target_is_reported() -> None:
    targets = make_targets("PHONY_ONLY := 1\n.PHONY: run lint\nrun: x\n\ttest: not a target\n")
    assert targets == {"run", "lint"}
    [command] = _read("`SPOLA_PORT=8080 make run test`\n")
    assert make_problems(targets, command) == ["the Makefile has no target 'test'"]


def test_option_strings_of_a_subcommand_path() -> None:
    parser = build_parser()
    assert option_strings(parser, ("queue", "drop")) == {"-h", "--help", "--home"}
    assert "--since-checkpoint" in option_strings(parser, ("export", "bundle"))
    assert "--since-checkpoint" not in option_strings(parser, ("export", "epcis"))
