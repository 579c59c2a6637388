from pathlib import Path

import pytest

from patron.core.settings import Settings, get_settings


def test_sqlite_in_the_data_directory_by_default(tmp_path: Path) -> None:
    settings = get_settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'patron.db'}"


def test_postgres_urls_go_through_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", "postgresql://shop@db.local/patron")
    assert Settings().resolved_database_url == "postgresql+psycopg://shop@db.local/patron"


def test_a_config_file_fills_what_the_environment_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "patron.toml"
    config.write_text('timezone = "Asia/Urumqi"\nport = 9000\n', encoding="utf-8")
    monkeypatch.setenv("PATRON_CONFIG", str(config))
    monkeypatch.setenv("PATRON_PORT", "8100")
    settings = Settings()
    assert settings.timezone == "Asia/Urumqi"
    assert settings.port == 8100  # the environment wins


def test_an_unknown_time_zone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="time zone"):
        Settings()


def test_the_command_names_a_wrong_setting_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from patron.cli import app

    monkeypatch.setenv("PATRON_ENV", "dev")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 2
    assert "PATRON_ENV" in result.output and "'development'" in result.output
    assert "Traceback" not in result.output
