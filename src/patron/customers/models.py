"""Customer profiles, the identities that point at them, tags, interactions and merges."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from patron.core.clock import utcnow
from patron.core.crypto import INDEX_HEX, Encrypted, EncryptedDate, EncryptedJSON, name_index
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    # personal fields cleared and identifiers removed by a retention run (patron.privacy);
    # orders and points stay, as an anonymous record
    ANONYMISED = "anonymised"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class IdentityKind(StrEnum):
    """The ways a channel names a person. Order is priority when they disagree."""

    MEMBER_CARD = "member_card"
    PHONE = "phone"
    WECHAT_UNIONID = "wechat_unionid"
    WECHAT_OPENID = "wechat_openid"
    EXTERNAL_ACCOUNT = "external_account"
    EMAIL = "email"


# Identifiers that belong to exactly one person: two profiles sharing one are one person.
STRONG_KINDS = frozenset(
    {IdentityKind.PHONE, IdentityKind.MEMBER_CARD, IdentityKind.WECHAT_UNIONID}
)
KIND_PRIORITY = {kind: rank for rank, kind in enumerate(IdentityKind)}


class Customer(Base):
    """A person. Name, birthday and address are encrypted at rest (patron.core.crypto);
    ``name_index`` is the keyed blind index of the name, for exact-name search. City, gender,
    store and sign-up channel stay plain: lists filter and analytics group by them."""

    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_home_store_id", "home_store_id"),
        Index("ix_customer_signed_up_at", "signed_up_at"),
        Index("ix_customer_city", "city"),
        Index("ix_customer_name_index", "name_index"),
    )

    id: Mapped[IdPk]
    name: Mapped[str | None] = mapped_column(Encrypted("customer.name"))
    name_index: Mapped[str | None] = mapped_column(String(INDEX_HEX))
    gender: Mapped[str | None] = mapped_column(String(10))
    birthday: Mapped[date | None] = mapped_column(EncryptedDate("customer.birthday"))
    address: Mapped[str | None] = mapped_column(Encrypted("customer.address"))
    city: Mapped[str | None] = mapped_column(String(60))
    home_store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    signup_channel: Mapped[str | None] = mapped_column(String(32))
    signed_up_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=CustomerStatus.ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # The ref of this person's own data key (customers/sealing.py); None before one is made.
    key_ref: Mapped[str | None] = mapped_column(String(32))

    @validates("name")
    def _index_name(self, _key: str, value: str | None) -> str | None:
        # Every ORM write of a name keeps its blind index in step; bulk inserts
        # (identity.py) compute it themselves.
        self.name_index = name_index(value)
        return value


class Identity(Base):
    """One identifier of one customer, normalised (E.164 phone, lower-case e-mail), encrypted.

    ``value`` is encrypted at rest for every kind; ``value_index`` is its keyed blind index
    (HMAC of kind, namespace and value), the only way to find it. ``namespace`` separates
    identifiers that are only unique within a system: the WeChat app for an openid, the shop
    system for an external account id. It is '' otherwise.
    """

    __tablename__ = "identity"
    __table_args__ = (
        # index first: a batch looks identifiers up by their blind index alone.
        UniqueConstraint("value_index", "kind", "namespace"),
        Index("ix_identity_customer_id", "customer_id"),
    )

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(20))
    namespace: Mapped[str] = mapped_column(String(64), default="")
    value: Mapped[str] = mapped_column(Encrypted("identity.value"))
    value_index: Mapped[str] = mapped_column(String(INDEX_HEX))
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Tag(Base):
    __tablename__ = "tag"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerTag(Base):
    __tablename__ = "customer_tag"
    __table_args__ = (Index("ix_customer_tag_tag_id", "tag_id"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("tag.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Interaction(Base):
    __tablename__ = "interaction"
    __table_args__ = (
        Index("ix_interaction_customer_id_occurred_at", "customer_id", "occurred_at"),
    )

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10))
    staff: Mapped[str | None] = mapped_column(String(120))
    # What was said or done, typed by staff: it carries phone numbers and addresses as often
    # as not, so it is encrypted like the profile.
    note: Mapped[str] = mapped_column(Encrypted("interaction.note"), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerMerge(Base):
    """A merge of ``merged_id`` into ``survivor_id``, with what moved so it can be undone."""

    __tablename__ = "customer_merge"
    __table_args__ = (
        Index("ix_customer_merge_survivor_id", "survivor_id"),
        Index("ix_customer_merge_merged_id", "merged_id"),
    )

    id: Mapped[IdPk]
    survivor_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    merged_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    reason: Mapped[str] = mapped_column(String(255))
    # The survivor's profile fields before the merge filled its blanks from the other
    # (names, birthdays, addresses: encrypted like the profile itself).
    survivor_before: Mapped[dict[str, Any]] = mapped_column(
        EncryptedJSON("customer_merge.survivor_before"), default=dict
    )
    # Row ids moved to the survivor, by kind: {"identity": [...], "order": [...], ...}.
    moved: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unmerged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class MergeSuggestion(Base):
    """Two profiles a record says are one person, where whoever sent the record may not
    merge them (a store's till, say): a privacy officer or chain manager merges or dismisses.

    The pair is kept in id order (``first_id`` < ``second_id``); at most one suggestion per
    pair is pending. A dismissed pair is never suggested, nor merged automatically, again.
    """

    __tablename__ = "customer_merge_suggestion"
    __table_args__ = (
        Index("ix_customer_merge_suggestion_status_id", "status", "id"),
        Index("ix_customer_merge_suggestion_second_id", "second_id"),
        Index(
            "ix_customer_merge_suggestion_pending_pair",
            "first_id",
            "second_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_customer_merge_suggestion_first_id", "first_id"),
    )

    id: Mapped[IdPk]
    first_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    second_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    status: Mapped[str] = mapped_column(String(16), default=SuggestionStatus.PENDING)
    # Why: the record and the identifier the two share, masked (kept in plain text).
    reason: Mapped[str] = mapped_column(String(255))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    raised_by: Mapped[str] = mapped_column(String(140))  # the actor's label, as it was
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(140))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    merge_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer_merge.id"))


class CustomFieldKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class CustomField(Base):
    """A profile field an admin defined. A personal one's values are encrypted at rest, shown
    masked unless the role may reveal them, and never copied to the analytics store."""

    __tablename__ = "custom_field"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerFieldValue(Base):
    """One customer's value of one custom field, as text (numbers and dates in their plain
    ISO form): in ``value`` for a field that is not personal, encrypted in ``secret`` for
    one that is."""

    __tablename__ = "customer_field_value"
    __table_args__ = (
        UniqueConstraint("customer_id", "field_id"),
        Index("ix_customer_field_value_field_id", "field_id"),
    )

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    field_id: Mapped[int] = mapped_column(BigId, ForeignKey("custom_field.id"))
    value: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(Encrypted("customer_field_value.secret"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CustomerKey(Base):
    """A customer's data key, wrapped by the keyring's wrapping key (docs/privacy.md).

    Erasure deletes the row: every value sealed under the key, wherever a copy lies, is
    unreadable from then on. Found by ``ref`` (random), never by the customer's id, so a
    sealed value says nothing about whose it is.
    """

    __tablename__ = "customer_key"

    id: Mapped[IdPk]
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    wrapped: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdentityCorrection(Base):
    """One identifier corrected (docs/privacy.md, "Correction"): which kind, what it held
    before (sealed like the profile), who corrected it, when, for which privacy request."""

    __tablename__ = "identity_correction"
    __table_args__ = (Index("ix_identity_correction_customer_id", "customer_id"),)

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(Encrypted("identity_correction.old_value"))
    corrected_by: Mapped[str] = mapped_column(String(140))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    request_id: Mapped[int | None] = mapped_column(BigId)  # the privacy request, if any
