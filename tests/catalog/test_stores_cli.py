"""``patron stores add``: a Chinese code works; a code that cannot be one says why."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from patron.catalog import service as catalog
from patron.cli import app
from patron.core.db import get_database

runner = CliRunner()
# The default database comes migrated (tests/conftest.py), as ``patron init`` leaves it.
pytestmark = pytest.mark.usefixtures("migrated_data_dir")


def test_a_store_with_a_chinese_code_is_added() -> None:
    result = runner.invoke(app, ["stores", "add", "上海一店", "上海南京路店", "--city", "上海"])

    assert result.exit_code == 0, result.output
    assert "已添加门店" in result.output
    store = get_database().read(lambda s: catalog.get_store_by_code(session=s, code="上海一店"))
    assert store is not None and store.name == "上海南京路店"


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["stores", "add", "上海 一店", "x"], 2, "不能有空格或标点"),
        (["stores", "add", "A1", "x", "--kind", "kiosk"], 2, "--kind"),
        (["stores", "add", "上海 一店", "x", "--lang", "en"], 2, "without spaces or punctuation"),
    ],
)
def test_a_store_that_cannot_be_added_says_why_without_a_traceback(
    args: list[str], code: int, said: str
) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == code
    assert said in result.output.replace("\n", "")
    assert "Traceback" not in result.output


def test_a_taken_code_is_said_so() -> None:
    runner.invoke(app, ["stores", "add", "SH01", "一店"])

    result = runner.invoke(app, ["stores", "add", "SH01", "二店", "--lang", "en"])

    assert result.exit_code == 1 and "is taken" in result.output
