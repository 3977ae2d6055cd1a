"""The production image (Dockerfile) carries every package the project installs but the dev
stack: an image without one of them builds, then fails at its first import in production."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Installed for `make run` (the `fulfillment` commands find a running dev stack through it),
# never copied into the image; nothing outside dev imports it (the last test here).
DEV_ONLY = {"devstack"}


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
    missing = packages - DEV_ONLY - copied_into_image()
    assert not missing, f"Dockerfile does not COPY {sorted(missing)}"


def test_the_image_carries_neither_the_dev_stack_nor_the_emulators() -> None:
    copied = copied_into_image()
    assert not copied & (DEV_ONLY | {"emulators", "tests", "bench"}), sorted(copied)
    assert "emulators" not in installed_packages()


def test_every_installed_package_exists_in_the_tree() -> None:
    # A package named in pyproject.toml but absent would make the check above vacuous.
    for package in installed_packages():
        assert (ROOT / package / "__init__.py").is_file(), package


def test_the_commands_outside_dev_never_import_the_dev_stack() -> None:
    # As in the image: importing devstack fails. The server lookup every command runs first
    # must not need it when FULFILLMENT_ENV is production.
    program = (
        "import sys; sys.modules['devstack'] = None\n"
        "import cli\n"
        "cli.servers(type('Ctx', (), {'obj': None})())\n"
        "print('no dev stack needed')\n"
    )
    env = {**os.environ, "FULFILLMENT_ENV": "production"}
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "no dev stack needed" in done.stdout
