"""The keyring: AES-GCM values bound to their column and key id, the blind index, rotation,
and where keys come from (environment, key file) with clear errors when they are wrong."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest

from patron.core import crypto
from patron.core.crypto import (
    DecryptionError,
    Encrypted,
    EncryptedDate,
    EncryptedJSON,
    Keyring,
    KeyringError,
    KeyringMissing,
    UnknownKeyId,
)
from patron.core.settings import get_settings

NAME = b"customer.name"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


def test_a_value_round_trips_and_is_tagged_with_the_active_key_id(keyring: Keyring) -> None:
    token = keyring.encrypt("王芳", NAME)
    kid, _, body = token.partition(":")
    assert kid == "k1" and "王芳" not in token and body
    assert keyring.decrypt(token, NAME) == "王芳"


def test_the_same_value_encrypts_differently_each_time(keyring: Keyring) -> None:
    assert keyring.encrypt("13800138000", NAME) != keyring.encrypt("13800138000", NAME)


def test_a_value_moved_to_another_column_is_refused(keyring: Keyring) -> None:
    token = keyring.encrypt("王芳", NAME)
    with pytest.raises(DecryptionError, match=r"customer\.address: .* another column"):
        keyring.decrypt(token, b"customer.address")


@pytest.mark.parametrize("position", [0, 14, -1], ids=["nonce", "ciphertext", "tag"])
def test_a_tampered_value_is_refused(keyring: Keyring, position: int) -> None:
    kid, _, body = keyring.encrypt("王芳", NAME).partition(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    tampered = f"{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(DecryptionError, match=r"customer\.name: the value under key k1"):
        keyring.decrypt(tampered, NAME)


def test_an_unknown_key_id_names_the_key_and_the_keys_held(keyring: Keyring) -> None:
    token = keyring.encrypt("王芳", NAME)
    with pytest.raises(UnknownKeyId, match=r"key 'k9', which .* does not hold \(it has k1\)"):
        keyring.decrypt("k9" + token[2:], NAME)


def test_a_value_under_another_keyring_with_the_same_key_id_is_refused(keyring: Keyring) -> None:
    token = Keyring.generate().encrypt("王芳", NAME)
    with pytest.raises(DecryptionError, match="does not decrypt"):
        keyring.decrypt(token, NAME)


@pytest.mark.parametrize("stored", ["王芳", "k1:", "k1:!!!"])
def test_plain_or_malformed_stored_values_are_refused(keyring: Keyring, stored: str) -> None:
    with pytest.raises(DecryptionError, match=r"^customer\.name: "):
        keyring.decrypt(stored, NAME)


def test_rotation_adds_an_active_key_keeps_the_old_ones_and_the_index_key(
    keyring: Keyring,
) -> None:
    old_token = keyring.encrypt("王芳", NAME)
    rotated = keyring.rotated()
    assert rotated.active == "k2" and set(rotated.data_keys) == {"k1", "k2"}
    assert rotated.decrypt(old_token, NAME) == "王芳"
    assert rotated.encrypt("王芳", NAME).startswith("k2:")
    assert rotated.blind_index("phone||+8613800138000") == keyring.blind_index(
        "phone||+8613800138000"
    )
    assert rotated.rotated().active == "k3"


def test_the_blind_index_is_keyed_and_separates_kinds(keyring: Keyring) -> None:
    other = Keyring.generate()
    with crypto.using_keyring(keyring):
        phone = crypto.identity_index("phone", "", "+8613800138000")
        assert phone == crypto.identity_index("phone", "", "+8613800138000")
        assert phone != crypto.identity_index("member_card", "", "+8613800138000")
        assert len(phone) == crypto.INDEX_HEX and "13800138000" not in phone
    with crypto.using_keyring(other):
        assert crypto.identity_index("phone", "", "+8613800138000") != phone


def test_the_batch_indexer_gives_the_blind_index_of_each_message(keyring: Keyring) -> None:
    messages = ["phone||+8613800138000", "email||a@example.cn", "member_card|S01|0042", "x" * 300]
    index = keyring.blind_indexer()
    assert [index(m) for m in messages] == [keyring.blind_index(m) for m in messages]
    assert index(messages[0]) == keyring.blind_index(messages[0])  # the pads are copied, not used


def test_name_search_ignores_width_case_and_spaces(keyring: Keyring) -> None:
    with crypto.using_keyring(keyring):
        assert crypto.name_index("王 芳") == crypto.name_index("王芳")
        assert crypto.name_index("Wang Fang") == crypto.name_index("ｗａｎｇ　ＦＡＮＧ")
        assert crypto.name_index("王芳") != crypto.name_index("王")
        assert crypto.name_index("  ") is None and crypto.name_index(None) is None


def test_column_types_encrypt_on_the_way_in_and_decrypt_on_the_way_out(
    keyring: Keyring,
) -> None:
    dialect = None
    with crypto.using_keyring(keyring):
        for column_type, value in (
            (Encrypted("customer.name"), "王芳"),
            (EncryptedDate("customer.birthday"), date(1990, 5, 1)),
            (EncryptedJSON("customer_merge.survivor_before"), {"name": "王芳", "city": None}),
        ):
            stored = column_type.process_bind_param(value, dialect)  # type: ignore[arg-type]
            assert isinstance(stored, str) and stored.startswith("k1:")
            assert column_type.process_result_value(stored, dialect) == value  # type: ignore[arg-type]
        assert Encrypted("customer.name").process_bind_param(None, dialect) is None  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"customer\.birthday takes a date"):
            EncryptedDate("customer.birthday").process_bind_param("1990-05-01", dialect)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- sources


def test_keys_come_from_the_environment_before_the_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_file = crypto.write_key_file(Keyring.generate(), tmp_path / "keys.json", replace=False)
    from_env = Keyring.generate()
    monkeypatch.setenv("PATRON_KEY_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv(crypto.ENV_VAR, from_env.to_json())
    get_settings.cache_clear()
    loaded = crypto.load_keyring()
    assert loaded.source == f"environment variable {crypto.ENV_VAR}"
    assert loaded.data_keys == from_env.data_keys

    monkeypatch.delenv(crypto.ENV_VAR)
    get_settings.cache_clear()
    loaded = crypto.load_keyring()
    assert loaded.path == tmp_path / "keys.json" and loaded.data_keys == from_file.data_keys


def test_the_key_file_is_private_and_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "keys.json"
    ring = crypto.write_key_file(Keyring.generate(), path, replace=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.read_key_file(path).data_keys == ring.data_keys
    rotated = crypto.write_key_file(ring.rotated(), path, replace=True)
    assert crypto.read_key_file(path).active == rotated.active == "k2"
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temporary left


def test_creating_a_key_file_that_appeared_meanwhile_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = crypto.write_key_file(Keyring.generate(), path, replace=False)
    second = crypto.write_key_file(Keyring.generate(), path, replace=False)
    assert second.data_keys == first.data_keys


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "must hold a JSON object"),
        ('{"active": "k1"}', "lacks data_keys, index_key"),
        ('{"active": "k2", "data_keys": {"k1": "KEY"}, "index_key": "KEY"}', "active key 'k2'"),
        ('{"active": "k1", "data_keys": {"k1": "c2hvcnQ"}, "index_key": "KEY"}', "not 32 bytes"),
        ('{"active": "k1", "data_keys": {"k1": "@@@@"}, "index_key": "KEY"}', "not base64url"),
    ],
)
def test_a_corrupt_key_file_is_named_with_what_is_wrong(
    tmp_path: Path, content: str, message: str
) -> None:
    key = Keyring.generate().to_json()
    good = json.loads(key)["data_keys"]["k1"]
    path = tmp_path / "keys.json"
    path.write_text(content.replace("KEY", good), encoding="utf-8")
    with pytest.raises(KeyringError, match=message) as caught:
        crypto.read_key_file(path)
    assert str(path) in str(caught.value)
    assert good not in str(caught.value)  # never the key itself


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        path = tmp_path / "keys.json"
        path.mkdir()  # root reads any file; a directory in its place cannot be read
    else:
        path = tmp_path / "keys.json"
        path.write_text(Keyring.generate().to_json(), encoding="utf-8")
        path.chmod(0)
    with pytest.raises(KeyringError, match=f"cannot read key file {path}"):
        crypto.read_key_file(path)


def test_a_missing_key_file_is_missing_not_corrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyringMissing, match=f"no key file at {tmp_path / 'keys.json'}"):
        crypto.read_key_file(tmp_path / "keys.json")


def test_production_without_keys_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_ENV", "production")
    get_settings.cache_clear()
    with pytest.raises(KeyringMissing, match="run `patron init`"):
        crypto.get_keyring()


def test_development_creates_the_key_file_on_first_use_unless_a_database_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATRON_ENV", "development")
    get_settings.cache_clear()
    ring = crypto.get_keyring()
    assert ring.path == get_settings().data_dir / "keys.json" and ring.path.exists()

    other = tmp_path / "other"
    (other / "patron.db").parent.mkdir()
    (other / "patron.db").write_bytes(b"")
    monkeypatch.setenv("PATRON_DATA_DIR", str(other))
    get_settings.cache_clear()
    with pytest.raises(KeyringMissing, match="exists but there is no key file"):
        crypto.get_keyring()


def test_ensure_keyring_refuses_when_encrypted_data_would_be_orphaned(tmp_path: Path) -> None:
    with pytest.raises(KeyringMissing, match="holds encrypted personal data"):
        crypto.ensure_keyring(has_encrypted_data=lambda: True)
    made = crypto.ensure_keyring(has_encrypted_data=lambda: False)
    assert made.path is not None and made.path.exists()
    assert crypto.get_keyring().data_keys == made.data_keys


def test_a_process_picks_up_a_key_file_rotated_by_another() -> None:
    made = crypto.ensure_keyring(has_encrypted_data=lambda: False)
    assert made.path is not None and crypto.get_keyring().active == "k1"
    # another process rotates and writes: this one reads the file again on the unknown key id
    rotated = crypto.write_key_file(made.rotated(), made.path, replace=True)
    token = rotated.encrypt("王芳", NAME)
    assert crypto.decrypt(token, NAME) == "王芳"
    assert crypto.get_keyring().active == "k2"
