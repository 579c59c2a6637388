"""The import contracts of pyproject.toml (docs/architecture.md, "Boundaries") hold for the
code as it is, and each one fails when a module breaks it: the code is copied aside, one
deliberate violation is added, and ``lint-imports`` must refuse it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(
        ROOT / "src" / "patron",
        tmp_path / "src" / "patron",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "translations"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_every_import_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


VIOLATIONS = {
    "core-imports-no-domain": ("core/leak.py", "from patron.loyalty import get_balance\n"),
    "rules-import-no-web": ("loyalty/leak.py", "from patron.web.i18n import gettext\n"),
    "orders-tables": ("loyalty/leak.py", "from patron.orders.models import Order\n"),
    "loyalty-through-its-package": ("orders/leak.py", "from patron.loyalty import ledger\n"),
    # catalog -> loyalty closes a cycle: loyalty reads the catalogue through catalog's service
    "no-domain-cycles": ("catalog/leak.py", "import patron.loyalty\n"),
}


@pytest.mark.slow
@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_a_deliberate_violation_breaks_its_contract(project: Path, contract: str) -> None:
    where, line = VIOLATIONS[contract]
    (project / "src" / "patron" / where).write_text(f'"""A deliberate violation."""\n\n{line}')
    result = _lint(project)
    assert result.returncode != 0, result.stdout
    name = _contract_name(project, contract)
    assert f"{name} BROKEN" in " ".join(result.stdout.split()), result.stdout


def _contract_name(project: Path, contract_id: str) -> str:
    import tomllib

    config = tomllib.loads((project / "pyproject.toml").read_text())
    [found] = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == contract_id]
    return " ".join(str(found["name"]).split())
