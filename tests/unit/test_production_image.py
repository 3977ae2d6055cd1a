"""The production image (Dockerfile) carries every package the project installs: an image
without one of them builds, then fails at its first import in production."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def installed_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    # "domain*" names the package domain and its subpackages.
    return {pattern.rstrip("*").rstrip(".") for pattern in patterns}


def copied_into_image() -> set[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    return set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, flags=re.MULTILINE))


def test_the_image_copies_every_package_the_project_installs() -> None:
    packages = installed_packages()
    assert packages, "pyproject.toml names no packages"
    missing = packages - copied_into_image()
    assert not missing, f"Dockerfile does not COPY {sorted(missing)}"


def test_every_installed_package_exists_in_the_tree() -> None:
    # A package named in pyproject.toml but absent would make the check above vacuous.
    for package in installed_packages():
        assert (ROOT / package / "__init__.py").is_file(), package
