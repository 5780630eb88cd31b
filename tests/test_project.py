"""Project files that must stay in step: environment.yml and pyproject.toml, the Makefile."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower()


def test_environment_yml_names_the_same_versions_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in project["dependencies"]}
    wanted.update({_name(r): r.replace(" ", "") for r in project["optional-dependencies"]["dev"]})
    listed = {}
    pip_section = (ROOT / "environment.yml").read_text().split("- pip:", 1)[1]
    for line in pip_section.splitlines():
        match = re.match(r"\s+-\s+([A-Za-z][\w.-]*(?:\[[\w,]+\])?[<>=!~][^#\s]*)", line)
        if match:
            listed[_name(match.group(1))] = match.group(1)
    assert listed == wanted


def test_makefile_offers_the_readme_commands():
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    for target in ("course", "test", "lab"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in readme, target


def test_min_versions_are_the_lower_bounds_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    lower = {}
    for requirement in requirements:
        match = re.search(r">=([\d.]+)", requirement)
        assert match, f"{requirement}: give a lower bound"
        lower[_name(requirement)] = match.group(1)
    pinned = {}
    for line in (ROOT / ".ci/min-versions.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[name] = version.removesuffix(".*")
    assert pinned == lower
