"""constraints.txt pins every dependency pyproject.toml declares, within its bounds."""

from __future__ import annotations

import re
import tomllib

from conftest import CONSTRAINTS, ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in CONSTRAINTS.read_text("utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_every_declared_dependency_is_pinned_within_its_bounds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in ("kiosk", "server", "test"):
        declared += project["optional-dependencies"][extra]
    pinned = pins()
    problems = []
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            problems.append(f"{name} is not in constraints.txt")
        elif not requirement.specifier.contains(pinned[name], prereleases=True):
            problems.append(f"{name}=={pinned[name]} is outside {requirement.specifier}")
    assert not problems, "; ".join(problems) + " (run scripts/lock.sh)"
