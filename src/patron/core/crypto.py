"""Personal data at rest: AES-256-GCM with key ids, and a keyed blind index for exact look-ups.

A keyring holds data keys (``k1``, ``k2`` …; one is active and encrypts, every one decrypts)
and one blind-index key (HMAC-SHA256). Rotation adds a data key and re-encrypts; it never
changes the index key, so look-ups by phone or e-mail keep working across rotations.

A value is stored as ``<kid>:<base64url(nonce12 || ciphertext+tag)>``; the associated data
is the column's name (``"customer.name"``), so a value copied into another column does not
decrypt. :class:`Encrypted` and its variants do this on the way in and out of the database,
so service code reads ``customer.name`` as plain text.

Where the keys come from, first match wins:

1. ``PATRON_ENCRYPTION_KEYS``: the key file's JSON in the environment;
2. the key file (``PATRON_KEY_FILE``, default ``<data_dir>/keys.json``), written by
   ``patron init`` with mode 0600 and rewritten atomically by ``patron keys rotate``;
3. nothing configured: in development the key file is created on first use, unless the
   default SQLite database already exists (then data may be encrypted under lost keys and
   ``patron init`` decides); under ``PATRON_ENV=test`` a throwaway keyring lives in memory
   for the life of the process; in production it is an error.

Messages never carry key material or the values being protected.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect

from patron.core.settings import Settings, get_settings

ENV_VAR = "PATRON_ENCRYPTION_KEYS"
FORMAT_VERSION = 1
_NONCE = 12
_TAG = 16
_KEY_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_HMAC_BLOCK = 64  # SHA-256's block, in bytes
INDEX_HEX = 32  # 128 bits of the HMAC: collisions are out of reach at any shop's scale
_RECHECK_SECONDS = 5.0  # how often a long-running process looks for a rotated key file


class EncryptionError(Exception):
    """Keys or ciphertext are not as they must be. Never a user's fault: a server error."""


class KeyringError(EncryptionError):
    """The keyring cannot be had: missing, unreadable or malformed."""


class KeyringMissing(KeyringError):
    """No key source is configured."""


class DecryptionError(EncryptionError):
    """A stored value does not decrypt: tampered with, moved between columns, or a lost key."""


class UnknownKeyId(DecryptionError):
    """A value names a key id this keyring does not hold."""

    def __init__(self, message: str, *, kid: str) -> None:
        super().__init__(message)
        self.kid = kid


@lru_cache(maxsize=8)
def _hmac_pads(key: bytes) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The ``copy`` of SHA-256 fed with ``key``'s inner and of its outer HMAC pad."""
    if len(key) > _HMAC_BLOCK:
        key = sha256(key).digest()
    key = key.ljust(_HMAC_BLOCK, b"\0")
    return sha256(bytes(b ^ 0x36 for b in key)).copy, sha256(bytes(b ^ 0x5C for b in key)).copy


def _wrap_aad(ref: str) -> bytes:
    return f"subject_key.{ref}".encode()


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def generate_key() -> bytes:
    return secrets.token_bytes(_KEY_BYTES)


@dataclass(frozen=True, eq=False)
class Keyring:
    """Data keys by id, the active one, and the blind-index key. Immutable: rotation makes a
    new keyring."""

    data_keys: dict[str, bytes]
    active: str
    index_key: bytes
    source: str = "memory"
    path: Path | None = None
    # Wrapping keys for the per-customer data keys (envelope encryption, docs/privacy.md):
    # rolled on every erasure so that no copy of a destroyed data key can be unwrapped.
    wrap_keys: dict[str, bytes] = field(default_factory=dict)
    wrap_active: str | None = None
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False)
    _wrappers: dict[str, AESGCM] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.data_keys:
            raise KeyringError(f"{self.source}: no data keys")
        for kid, key in self.data_keys.items():
            if not _KID.match(kid):
                raise KeyringError(f"{self.source}: key id {kid!r} is not 1-16 letters or digits")
            if len(key) != _KEY_BYTES:
                raise KeyringError(f"{self.source}: data key {kid} is not {_KEY_BYTES} bytes")
        if self.active not in self.data_keys:
            raise KeyringError(f"{self.source}: the active key {self.active!r} is not in the file")
        if len(self.index_key) != _KEY_BYTES:
            raise KeyringError(f"{self.source}: the index key is not {_KEY_BYTES} bytes")
        for kid, key in self.wrap_keys.items():
            if not _KID.match(kid) or len(key) != _KEY_BYTES:
                raise KeyringError(f"{self.source}: wrapping key {kid!r} is malformed")
        if self.wrap_active is not None and self.wrap_active not in self.wrap_keys:
            raise KeyringError(f"{self.source}: the active wrapping key is not in the file")
        # AESGCM objects are made once per key, not per value.
        object.__setattr__(self, "_ciphers", {k: AESGCM(v) for k, v in self.data_keys.items()})
        object.__setattr__(self, "_wrappers", {k: AESGCM(v) for k, v in self.wrap_keys.items()})

    # ------------------------------------------------------------------ values

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[self.active].encrypt(nonce, plaintext.encode("utf-8"), aad)
        return f"{self.active}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, aad: bytes) -> str:
        kid, colon, body = token.partition(":")
        column = aad.decode("utf-8", "replace")
        if not colon:
            raise DecryptionError(f"{column}: the stored value is not encrypted (no key id)")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyId(
                f"{column}: the value is encrypted with key {kid!r}, which {self.source} "
                f"does not hold (it has {', '.join(sorted(self.data_keys))})",
                kid=kid,
            )
        try:
            raw = _b64decode(body)
        except (binascii.Error, ValueError):
            raise DecryptionError(f"{column}: the value under key {kid} is not base64") from None
        if len(raw) < _NONCE + _TAG:
            raise DecryptionError(f"{column}: the value under key {kid} is truncated")
        try:
            plain = cipher.decrypt(raw[:_NONCE], raw[_NONCE:], aad)
        except InvalidTag:
            raise DecryptionError(
                f"{column}: the value under key {kid} does not decrypt: it was altered, "
                "copied from another column, or the key is not the one it was written with"
            ) from None
        return plain.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return token.partition(":")[0]

    # ------------------------------------------------------------------ subject keys

    def wrap(self, key: bytes, ref: str) -> str:
        """A per-subject data key sealed under the active wrapping key, bound to its ref."""
        if self.wrap_active is None:
            raise KeyringError(f"{self.source} has no wrapping key")
        nonce = os.urandom(_NONCE)
        sealed = self._wrappers[self.wrap_active].encrypt(nonce, key, _wrap_aad(ref))
        return f"{self.wrap_active}:{_b64encode(nonce + sealed)}"

    def unwrap(self, token: str, ref: str) -> bytes:
        kid, _colon, body = token.partition(":")
        cipher = self._wrappers.get(kid)
        if cipher is None:
            raise UnknownKeyId(f"subject key {ref}: wrapping key {kid!r} is not held", kid=kid)
        try:
            raw = _b64decode(body)
            return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], _wrap_aad(ref))
        except (binascii.Error, ValueError, InvalidTag):
            raise DecryptionError(f"subject key {ref} does not unwrap") from None

    def with_wrap_keys(self, wrap_keys: dict[str, bytes], active: str | None) -> Keyring:
        return Keyring(
            data_keys=self.data_keys,
            active=self.active,
            index_key=self.index_key,
            source=self.source,
            path=self.path,
            wrap_keys=wrap_keys,
            wrap_active=active,
        )

    def with_new_wrap_key(self) -> Keyring:
        """A new active wrapping key; the old ones stay until every subject key is rewrapped."""
        numbers = [int(k[1:]) for k in self.wrap_keys if re.fullmatch(r"w\d+", k)]
        wid = f"w{max(numbers, default=0) + 1}"
        return self.with_wrap_keys({**self.wrap_keys, wid: generate_key()}, wid)

    def without_old_wrap_keys(self) -> Keyring:
        """Only the active wrapping key: what the old ones wrapped is unreadable from now on."""
        if self.wrap_active is None:
            return self
        return self.with_wrap_keys(
            {self.wrap_active: self.wrap_keys[self.wrap_active]}, self.wrap_active
        )

    # ------------------------------------------------------------------ blind index

    def blind_index(self, message: str) -> str:
        """HMAC-SHA256 of ``message`` under the index key, as hex (first 128 bits)."""
        return hmac.digest(self.index_key, message.encode("utf-8"), sha256).hex()[:INDEX_HEX]

    def blind_indexer(self) -> Callable[[str], str]:
        """:meth:`blind_index` for a batch of messages (a bulk post's identifiers): the same
        HMAC-SHA256 (RFC 2104), its key's inner and outer pads hashed once (per index key,
        :func:`_hmac_pads`) and copied for each message, rather than set up anew by
        ``hmac.digest`` each time (more than half its cost under OpenSSL 3)."""
        inner_pad, outer_pad = _hmac_pads(self.index_key)

        def index(message: str) -> str:
            inner = inner_pad()
            inner.update(message.encode("utf-8"))
            outer = outer_pad()
            outer.update(inner.digest())
            return outer.hexdigest()[:INDEX_HEX]

        return index

    # ------------------------------------------------------------------ rotation, storage

    def next_key_id(self) -> str:
        numbers = [int(k[1:]) for k in self.data_keys if re.fullmatch(r"k\d+", k)]
        return f"k{max(numbers, default=0) + 1}"

    def rotated(self) -> Keyring:
        """A keyring with a new active data key; the old ones stay to decrypt until
        re-encryption is done, and the index key is kept."""
        kid = self.next_key_id()
        return Keyring(
            data_keys={**self.data_keys, kid: generate_key()},
            active=kid,
            index_key=self.index_key,
            source=self.source,
            path=self.path,
            wrap_keys=self.wrap_keys,
            wrap_active=self.wrap_active,
        )

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "active": self.active,
            "data_keys": {k: _b64encode(v) for k, v in self.data_keys.items()},
            "index_key": _b64encode(self.index_key),
        }
        if self.wrap_active is not None:
            doc["wrap_active"] = self.wrap_active
            doc["wrap_keys"] = {k: _b64encode(v) for k, v in self.wrap_keys.items()}
        return json.dumps(doc, indent=2)

    @classmethod
    def generate(cls, *, source: str = "memory", path: Path | None = None) -> Keyring:
        return cls(
            data_keys={"k1": generate_key()},
            active="k1",
            index_key=generate_key(),
            source=source,
            path=path,
            wrap_keys={"w1": generate_key()},
            wrap_active="w1",
        )

    @classmethod
    def from_json(cls, text: str, *, source: str, path: Path | None = None) -> Keyring:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyringError(f"{source} is not valid JSON (line {exc.lineno})") from None
        if not isinstance(doc, dict):
            raise KeyringError(f"{source} must hold a JSON object")
        missing = [k for k in ("active", "data_keys", "index_key") if k not in doc]
        if missing:
            raise KeyringError(f"{source} lacks {', '.join(missing)}")
        if doc.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise KeyringError(f"{source} has version {doc['version']!r}; expected 1")
        data_keys = doc["data_keys"]
        if not isinstance(data_keys, dict) or not all(
            isinstance(v, str) for v in data_keys.values()
        ):
            raise KeyringError(f"{source}: data_keys must map key ids to base64 keys")
        if not isinstance(doc["active"], str) or not isinstance(doc["index_key"], str):
            raise KeyringError(f"{source}: active and index_key must be strings")
        try:
            keys = {str(k): _b64decode(v) for k, v in data_keys.items()}
            index_key = _b64decode(doc["index_key"])
            wrap_keys = {str(k): _b64decode(v) for k, v in (doc.get("wrap_keys") or {}).items()}
        except (binascii.Error, ValueError, AttributeError, TypeError):
            raise KeyringError(f"{source}: a key is not base64url") from None
        wrap_active = doc.get("wrap_active")
        if wrap_active is not None and not isinstance(wrap_active, str):
            raise KeyringError(f"{source}: wrap_active must be a string")
        return cls(
            data_keys=keys,
            active=doc["active"],
            index_key=index_key,
            source=source,
            path=path,
            wrap_keys=wrap_keys,
            wrap_active=wrap_active,
        )


# ------------------------------------------------------------------------- sources


def key_file_path(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.key_file or settings.data_dir / "keys.json"


def _file_source(path: Path) -> str:
    return f"key file {path}"


def read_key_file(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyringMissing(f"no key file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise KeyringError(f"cannot read key file {path}: {reason}") from None
    return Keyring.from_json(text, source=_file_source(path), path=path)


def load_keyring(settings: Settings | None = None) -> Keyring:
    """The configured keyring (environment, then key file); KeyringMissing if neither."""
    settings = settings or get_settings()
    if settings.encryption_keys is not None:
        return Keyring.from_json(
            settings.encryption_keys.get_secret_value(), source=f"environment variable {ENV_VAR}"
        )
    return read_key_file(key_file_path(settings))


def write_key_file(keyring: Keyring, path: Path, *, replace: bool) -> Keyring:
    """Write ``keyring`` to ``path`` (mode 0600) atomically; returns it bound to the file.

    ``replace=False`` creates the file only if absent: when another process made one first,
    that one is returned, so two processes starting at once agree on one keyring.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    bound = Keyring(
        data_keys=keyring.data_keys,
        active=keyring.active,
        index_key=keyring.index_key,
        source=_file_source(path),
        path=path,
        wrap_keys=keyring.wrap_keys,
        wrap_active=keyring.wrap_active,
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(bound.to_json())
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return read_key_file(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):  # the rename itself must reach the disk
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return bound


# ------------------------------------------------------------------ the process keyring


@dataclass
class _Loaded:
    settings: Settings
    keyring: Keyring
    mtime: float | None
    checked_at: float


_lock = threading.Lock()
_installed: Keyring | None = None
_loaded: _Loaded | None = None
_throwaway: Keyring | None = None  # PATRON_ENV=test without configured keys


def _mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _default_database_exists(settings: Settings) -> bool:
    return settings.database_url is None and (settings.data_dir / "patron.db").exists()


def _remember(settings: Settings, keyring: Keyring) -> Keyring:
    global _loaded
    _loaded = _Loaded(settings, keyring, _mtime(keyring.path), time.monotonic())
    return keyring


def _load_or_create(settings: Settings) -> Keyring:
    global _throwaway
    try:
        return load_keyring(settings)
    except KeyringMissing:
        pass
    path = key_file_path(settings)
    if settings.env == "test":
        if _throwaway is None:
            _throwaway = Keyring.generate(source="the test run's throwaway keyring")
        return _throwaway
    if settings.env == "production":
        raise KeyringMissing(
            f"no encryption keys: run `patron init` to create {path}, or set {ENV_VAR}"
        )
    if _default_database_exists(settings):
        raise KeyringMissing(
            f"the database {settings.data_dir / 'patron.db'} exists but there is no key file "
            f"at {path}: run `patron init`, or restore the key file from your backup"
        )
    return write_key_file(Keyring.generate(), path, replace=False)


def get_keyring() -> Keyring:
    """The keyring this process encrypts and decrypts with."""
    if _installed is not None:
        return _installed
    settings = get_settings()
    loaded = _loaded
    if loaded is not None and loaded.settings is settings:
        if loaded.keyring.path is not None:
            now = time.monotonic()
            if now - loaded.checked_at > _RECHECK_SECONDS:
                loaded.checked_at = now
                if _mtime(loaded.keyring.path) != loaded.mtime:
                    return reload_keyring()  # rotated by another process
        return loaded.keyring
    with _lock:
        return _remember(settings, _load_or_create(settings))


def reload_keyring() -> Keyring:
    """Read the key source again (after a rotation elsewhere)."""
    if _installed is not None:
        return _installed
    settings = get_settings()
    with _lock:
        return _remember(settings, _load_or_create(settings))


def install_keyring(keyring: Keyring | None) -> None:
    """Use ``keyring`` in this process from now on (None: back to the configured source).
    For tests, and for ``patron keys rotate`` once the new key file is written."""
    global _installed, _loaded
    _installed = keyring
    _loaded = None


@contextlib.contextmanager
def using_keyring(keyring: Keyring) -> Iterator[Keyring]:
    previous = _installed
    install_keyring(keyring)
    try:
        yield keyring
    finally:
        install_keyring(previous)


def adopt_keyring(keyring: Keyring) -> Keyring:
    """Make the process use ``keyring`` as the configured one (after writing its file)."""
    return _remember(get_settings(), keyring)


def ensure_keyring(*, has_encrypted_data: Callable[[], bool]) -> Keyring:
    """The configured keyring; with none, create the key file (``patron init``, ``serve``).

    Refuses when the database already holds encrypted values: new keys could not read them.
    """
    settings = get_settings()
    try:
        return adopt_keyring(load_keyring(settings))
    except KeyringMissing:
        pass
    path = key_file_path(settings)
    if has_encrypted_data():
        raise KeyringMissing(
            f"the database holds encrypted personal data, but there is no key file at {path} "
            f"and {ENV_VAR} is not set: restore the key file from your backup"
        )
    return adopt_keyring(write_key_file(Keyring.generate(), path, replace=False))


# ------------------------------------------------------------------------- helpers


def encrypt(plaintext: str, aad: bytes) -> str:
    return get_keyring().encrypt(plaintext, aad)


def decrypt(token: str, aad: bytes) -> str:
    try:
        return get_keyring().decrypt(token, aad)
    except UnknownKeyId:
        # Perhaps another process rotated the keys a moment ago: read them once more.
        return reload_keyring().decrypt(token, aad)


def blind_index(message: str) -> str:
    return get_keyring().blind_index(message)


def identity_index(kind: str, namespace: str, value: str) -> str:
    """The blind index of a normalised identifier: kind and namespace are part of it."""
    return get_keyring().blind_index(f"{kind}|{namespace}|{value}")


_SPACE = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """What makes two spellings of a name one for search: NFKC, case-folded, no spaces."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", name).casefold())


def name_index(name: str | None) -> str | None:
    """The blind index of a full name (exact-name search), None for no name."""
    if name is None:
        return None
    normal = normalise_name(name)
    return get_keyring().blind_index(f"name|{normal}") if normal else None


# ------------------------------------------------------------------- subject keys
#
# Envelope encryption (docs/privacy.md): a customer's personal values are sealed under a
# data key of their own, stored wrapped by the keyring's wrapping key and found by a random
# ref. Such a value reads ``@<ref>:<base64url(nonce12 || ciphertext+tag)>``. Destroying the
# wrapped key (erasure) leaves every copy of those values unreadable. Unwrapped keys are kept
# in the session's ``info`` (one request, one batch), never for the life of the process.

SUBJECT_PREFIX = "@"
_SUBJECT_CACHE = "patron.subject_keys"

SubjectKeyFetcher = Callable[[Any, list[str]], dict[str, str]]
"""(session, refs) -> the wrapped key of each ref that still exists."""

_fetcher: SubjectKeyFetcher | None = None
_session: ContextVar[Any] = ContextVar("patron_crypto_session", default=None)


class Sealed(str):
    """A value already sealed under a subject key: the column types store it as it is."""

    __slots__ = ()


def register_subject_key_fetcher(fetcher: SubjectKeyFetcher) -> None:
    """Tell the column types where wrapped subject keys are read (the customers domain)."""
    global _fetcher
    _fetcher = fetcher


@contextlib.contextmanager
def reading_in(session: Any) -> Iterator[None]:
    """Values read while this is open find their subject keys through ``session``."""
    token = _session.set(session)
    try:
        yield
    finally:
        _session.reset(token)


def _cache(session: Any) -> dict[str, AESGCM | None]:
    found: dict[str, AESGCM | None] = session.info.setdefault(_SUBJECT_CACHE, {})
    return found


def new_subject_key(session: Any) -> tuple[str, str]:
    """A fresh data key, remembered in ``session``; returns (ref, the key wrapped)."""
    ref = secrets.token_hex(8)
    key = generate_key()
    wrapped = get_keyring().wrap(key, ref)
    _cache(session)[ref] = AESGCM(key)
    return ref, wrapped


def can_make_subject_keys() -> bool:
    return get_keyring().wrap_active is not None


def forget_subject_keys(session: Any, refs: list[str]) -> None:
    cache = _cache(session)
    for ref in refs:
        cache[ref] = None


def prefetch_subject_keys(session: Any, refs: list[str]) -> None:
    """Unwrap the keys of ``refs`` in one read (a page of customers, an import batch)."""
    cache = _cache(session)
    missing = sorted({r for r in refs if r and r not in cache})
    if not missing or _fetcher is None:
        return
    wrapped = _fetcher(session, missing)
    keyring = get_keyring()
    for ref in missing:
        token = wrapped.get(ref)
        if token is None:
            cache[ref] = None  # erased: its values are gone
            continue
        try:
            key = keyring.unwrap(token, ref)
        except UnknownKeyId:
            keyring = reload_keyring()  # the wrapping key was rolled by another process
            key = keyring.unwrap(token, ref)
        cache[ref] = AESGCM(key)


def _subject_cipher(session: Any, ref: str) -> AESGCM | None:
    cache = _cache(session)
    if ref not in cache:
        prefetch_subject_keys(session, [ref])
    return cache.get(ref)


def seal(plaintext: str, aad: bytes, *, ref: str, session: Any) -> Sealed:
    """``plaintext`` encrypted under the subject key ``ref`` (which must exist)."""
    cipher = _subject_cipher(session, ref)
    if cipher is None:
        raise EncryptionError(f"subject key {ref} does not exist (erased?)")
    nonce = os.urandom(_NONCE)
    body = _b64encode(nonce + cipher.encrypt(nonce, plaintext.encode("utf-8"), aad))
    return Sealed(f"{SUBJECT_PREFIX}{ref}:{body}")


def subject_ref_of(token: str) -> str | None:
    if not token.startswith(SUBJECT_PREFIX):
        return None
    return token[1:].partition(":")[0]


def open_sealed(token: str, aad: bytes, *, session: Any | None = None) -> str | None:
    """A sealed value's text; None when its subject key was destroyed (erased)."""
    session = session if session is not None else _session.get()
    ref, _colon, body = token[1:].partition(":")
    column = aad.decode("utf-8", "replace")
    if session is None:
        raise DecryptionError(f"{column}: a customer's value read outside a database session")
    cipher = _subject_cipher(session, ref)
    if cipher is None:
        return None
    try:
        raw = _b64decode(body)
        return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], aad).decode("utf-8")
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionError(
            f"{column}: the value under subject key {ref} does not decrypt"
        ) from None


# ------------------------------------------------------------------- column types


class Encrypted(TypeDecorator[str]):
    """A text value encrypted on the way in, decrypted on the way out.

    ``column`` (``"customer.name"``) is the associated data: the value is bound to it.
    Equality in SQL against such a column never matches (each write has a fresh nonce):
    look up through a blind index instead.
    """

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column
        self._aad = column.encode("utf-8")

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return str(value)
        return encrypt(self._to_text(value), self._aad)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.startswith(SUBJECT_PREFIX):
            text = open_sealed(value, self._aad)
            return None if text is None else self._from_text(text)
        return self._from_text(decrypt(value, self._aad))

    def text_of(self, value: Any) -> str:
        """The text a value is stored as, before encryption."""
        return self._to_text(value)

    def _to_text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{self.column} takes text, not {type(value).__name__}")
        return value

    def _from_text(self, text: str) -> Any:
        return text


class EncryptedDate(Encrypted):
    """A date, encrypted as its ISO text."""

    cache_ok = True

    def _to_text(self, value: Any) -> str:
        if not isinstance(value, date):
            raise TypeError(f"{self.column} takes a date, not {type(value).__name__}")
        return value.isoformat()

    def _from_text(self, text: str) -> date:
        return date.fromisoformat(text)


class EncryptedJSON(Encrypted):
    """A JSON document, encrypted as its text."""

    cache_ok = True

    def _to_text(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _from_text(self, text: str) -> Any:
        return json.loads(text)
