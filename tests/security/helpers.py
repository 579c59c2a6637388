"""Customers with known personal data, signed up through the services, for the security tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerUpdate, InteractionCreate
from tests.helpers import ACTOR, post_order, sign_up


@dataclass(frozen=True)
class Person:
    name: str
    phone: str  # as typed at the till: 11 digits
    email: str
    birthday: str
    address: str
    member_card: str

    @property
    def e164(self) -> str:
        return "+86" + self.phone

    def secrets(self) -> list[str]:
        """Every spelling of this person's data that must not be readable at rest."""
        return [
            self.name,
            self.phone,
            self.e164,
            self.email,
            self.birthday,
            self.address,
            self.member_card,
        ]


PEOPLE = (
    Person("欧阳娜娜", "13912345678", "nana.ouyang@example.com", "1991-07-15",
           "上海市黄浦区南京东路 299 号 1801 室", "VIP-778899"),
    Person("司马相如", "15887654321", "xiangru.sima@example.org", "1985-02-28",
           "杭州市西湖区文三路 88 号", "VIP-112233"),
    Person("Zoë Kowalczyk", "18611112222", "zoe.kowalczyk@example.net", "1979-12-03",
           "苏州市姑苏区观前街 1 号", "VIP-445566"),
)  # fmt: skip


def populate(db: Database) -> dict[str, Any]:
    """Sign everyone up with every field, then exercise the paths that write personal data:
    an update (audited with its before-image), a note of a call, an order, an automatic merge (a second profile joined by an order) and a staff
    merge undone again. Returns the ids made."""
    ids = {}
    for person in PEOPLE:
        ids[person.phone] = sign_up(
            db,
            name=person.name,
            phone=person.phone,
            email=person.email,
            birthday=person.birthday,
            member_card=person.member_card,
            city="昆山",  # plain on purpose: lists filter by city
        )
        db.write(
            lambda s, cid=ids[person.phone], p=person: customers.update_customer(
                session=s, customer_id=cid, customer_in=CustomerUpdate(address=p.address)
            )
        )
        # a note of a call, typed as staff type them: the number and address written out
        note = InteractionCreate(
            channel="phone",
            note=f"{person.name}来电，改寄到{person.address}，回拨{person.phone}，"
            f"邮箱{person.email}，生日{person.birthday}，卡号{person.member_card}",
        )
        db.write(
            lambda s, cid=ids[person.phone], n=note: customers.record_interaction(
                session=s, customer_id=cid, interaction_in=n
            )
        )
    first, second, third = PEOPLE
    # a till profile by card only, later joined to the phone profile by an order with both
    till = sign_up(db, member_card="CARD-" + first.phone[-6:], birthday=first.birthday)
    post_order(
        db, "SEC-1", customer={"phone": first.phone, "member_card": "CARD-" + first.phone[-6:]}
    )
    # a staff merge, undone: the survivor's snapshot (name, birthday, address) was stored
    merge = db.write(
        lambda s: customers.merge_customers(
            session=s,
            survivor_id=ids[second.phone],
            merged_id=ids[third.phone],
            reason="同一人",
            actor=ACTOR,
        )
    )
    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge.id, actor=ACTOR))
    return {"customers": ids, "till": till, "merge": merge.id}


# under a keyring data key (k1:…) or under the customer's own data key (@<ref>:…)
CIPHERTEXT = re.compile(r"^(k\d+|@[0-9a-f]{16}):[A-Za-z0-9_-]+$")


def raw_encrypted_values(db: Database) -> dict[str, list[str]]:
    """Every stored value of the encrypted columns, read with SQL, not through the models."""
    from sqlalchemy import text

    queries = {
        "customer.name": "SELECT name FROM customer WHERE name IS NOT NULL",
        "customer.birthday": "SELECT birthday FROM customer WHERE birthday IS NOT NULL",
        "customer.address": "SELECT address FROM customer WHERE address IS NOT NULL",
        "identity.value": "SELECT value FROM identity",
        "customer_merge.survivor_before": "SELECT survivor_before FROM customer_merge",
        "interaction.note": "SELECT note FROM interaction",
        "audit_entry.before_image": (
            "SELECT before_image FROM audit_entry WHERE before_image IS NOT NULL"
        ),
    }
    with db.engine.connect() as conn:
        return {
            column: [str(row[0]) for row in conn.execute(text(sql))]
            for column, sql in queries.items()
        }
