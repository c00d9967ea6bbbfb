"""constraints.txt: the pinned versions every install of the Makefile reads.

Each package pyproject.toml asks for (the core and every extra) is pinned there, at a version
its specifier admits, and the environment running the suite holds exactly the pinned versions:
a dependency added without its pin, or an install that bypassed the pins, fails here.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def pins(text: str) -> dict[str, Version]:
    """``name==version`` lines, keyed by canonical name; comments and blank lines skipped."""
    found: dict[str, Version] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep or not name or not version:
            raise ValueError(f"constraints.txt line {number}: not name==version: {line!r}")
        key = canonicalize_name(name)
        if key in found:
            raise ValueError(f"constraints.txt line {number}: {name} pinned twice")
        found[key] = Version(version)
    return found


def requirements() -> list[Requirement]:
    """What pyproject.toml asks for: the core and every extra, the project itself left out."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    asked = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        asked.extend(extra)
    return [r for r in map(Requirement, asked) if canonicalize_name(r.name) != "spola"]


PINS = pins((ROOT / "constraints.txt").read_text(encoding="utf-8"))


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_every_dependency_is_pinned_within_its_specifier(requirement: Requirement) -> None:
    pinned = PINS.get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is not pinned in constraints.txt"
    assert requirement.specifier.contains(pinned, prereleases=True), (
        f"constraints.txt pins {requirement.name} {pinned}, outside {requirement.specifier}"
    )


def test_installed_packages_are_the_pinned_versions() -> None:
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }
    differ = [
        f"{name} {installed[name]} (pinned {version})"
        for name, version in sorted(PINS.items())
        if name in installed and installed[name] != version
    ]
    assert not differ, "installed outside constraints.txt: " + ", ".join(differ)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("fastapi>=0.1\n", "line 1: not name==version"),
        ("# pins\nfastapi==1.0\nFastAPI==1.1\n", "line 3: FastAPI pinned twice"),
        ("httpx==\n", "line 1: not name==version"),
    ],
)
def test_a_line_that_pins_nothing_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        pins(text)
