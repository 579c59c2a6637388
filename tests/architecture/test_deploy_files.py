"""The systemd unit and the container build file in docs/deploy (docs/operations.md), checked
as far as a machine without a container engine allows: systemd parses the unit, every file
the build copies exists, every setting and option they use is one Patron has."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from patron.cli import app
from patron.core.settings import Settings
from patron.web.permissions import PUBLIC, ROUTE_PERMISSIONS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
UNIT = DEPLOY / "patron.service"
CONTAINERFILE = DEPLOY / "Containerfile"


def _serve_options() -> set[str]:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return set(re.findall(r"--[a-z][a-z-]+", result.output))


def _patron_settings(text: str) -> set[str]:
    return {m.lower() for m in re.findall(r"\bPATRON_([A-Z_]+)=", text)}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_reads_the_unit_without_a_complaint(tmp_path: Path) -> None:
    patron = Path(sys.executable).with_name("patron")
    unit = UNIT.read_text(encoding="utf-8")
    unit = unit.replace("/opt/patron/bin/patron", str(patron))
    unit = re.sub(r"^(User|Group)=patron$", r"\1=root", unit, flags=re.M)
    local = tmp_path / "patron.service"
    local.write_text(unit, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "patron.service" not in done.stderr, done.stderr


def test_the_unit_and_the_container_use_options_and_settings_patron_has() -> None:
    options = _serve_options()
    fields = set(Settings.model_fields)
    for path in (UNIT, CONTAINERFILE):
        text = path.read_text(encoding="utf-8")
        command = next(line for line in text.splitlines() if "serve" in line and "#" not in line)
        assert set(re.findall(r"--[a-z][a-z-]+", command)) <= options, command
        assert _patron_settings(text) <= fields, path.name


def test_the_container_build_copies_what_the_repository_has() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    minimum = tuple(int(n) for n in project["requires-python"].removeprefix(">=").split("."))
    for version in re.findall(r"python:(\d+\.\d+)", text):
        assert tuple(int(n) for n in version.split(".")) >= minimum
    assert "/healthz" in text and ROUTE_PERMISSIONS[("GET", "/healthz")] == PUBLIC
