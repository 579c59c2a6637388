"""Who the demo's customers are: names, contact identifiers, birthdays.

Names come from Faker's zh_CN lists (surnames weighted by how common they are), drawn with
numpy so a million customers take seconds, not minutes. Identifiers are unique by
construction, not by retrying: each is an affine bijection of the customer's number, so
no set of issued numbers has to be kept in memory while streaming.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from math import gcd

import numpy as np
from faker.providers.person.zh_CN import Provider as _ChineseNames

# Mainland mobile prefixes in use (all match 1[3-9]x).
_MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "170",
    "171",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "193",
    "195",
    "196",
    "198",
    "199",
]
_PHONE_SPACE = len(_MOBILE_PREFIXES) * 10**8
_PHONE_STEP = 2_654_435_761  # prime (Knuth's multiplicative hash), coprime to the space
_CARD_SPACE = 10**8
_CARD_STEP = 2_654_435_761
_QQ_SPACE = 9 * 10**8
_QQ_STEP = 69_069_001
assert (
    gcd(_PHONE_STEP, _PHONE_SPACE) == gcd(_CARD_STEP, _CARD_SPACE) == gcd(_QQ_STEP, _QQ_SPACE) == 1
)

_SURNAMES = list(_ChineseNames.last_names.keys())
_SURNAME_WEIGHTS = np.array(list(_ChineseNames.last_names.values()), dtype=float)
_SURNAME_WEIGHTS /= _SURNAME_WEIGHTS.sum()
_GIVEN_MALE = list(_ChineseNames.first_names_male)
_GIVEN_FEMALE = list(_ChineseNames.first_names_female)
_ROMANISED = [s.lower() for s in _ChineseNames.first_romanized_names]
_MAIL_DOMAINS = ("163.com", "126.com", "sina.com", "outlook.com", "foxmail.com")


def phone_numbers(*, numbers: np.ndarray, salt: int) -> list[str]:
    """A distinct valid mobile number (1[3-9] + 9 digits) for each customer number."""
    code = (numbers.astype(np.int64) * _PHONE_STEP + salt) % _PHONE_SPACE
    prefix = code // 10**8
    rest = code % 10**8
    return [
        f"{_MOBILE_PREFIXES[p]}{r:08d}" for p, r in zip(prefix.tolist(), rest.tolist(), strict=True)
    ]


def member_cards(*, numbers: np.ndarray, salt: int) -> list[str]:
    """A distinct 12-digit member card number for each customer number."""
    code = (numbers.astype(np.int64) * _CARD_STEP + salt) % _CARD_SPACE
    return [f"6688{c:08d}" for c in code.tolist()]


def emails(*, rng: np.random.Generator, numbers: np.ndarray, salt: int) -> list[str]:
    """QQ mail for most (the QQ number is unique per customer), otherwise name+number."""
    qq = (numbers.astype(np.int64) * _QQ_STEP + salt) % _QQ_SPACE + 10**8
    use_qq = rng.random(numbers.size) < 0.55
    roman = rng.integers(0, len(_ROMANISED), numbers.size)
    domain = rng.integers(0, len(_MAIL_DOMAINS), numbers.size)
    return [
        f"{q}@qq.com" if flag else f"{_ROMANISED[r]}{n}@{_MAIL_DOMAINS[d]}"
        for q, flag, r, n, d in zip(
            qq.tolist(),
            use_qq.tolist(),
            roman.tolist(),
            numbers.tolist(),
            domain.tolist(),
            strict=True,
        )
    ]


def wechat_ids(*, numbers: np.ndarray, seed: int, kind: str) -> list[str]:
    """28-character WeChat-style openids/unionids, stable for a seed and customer number."""
    out = []
    for n in numbers.tolist():
        digest = hashlib.blake2b(f"{kind}:{seed}:{n}".encode(), digest_size=20).digest()
        out.append("o" + base64.urlsafe_b64encode(digest).decode()[:27])
    return out


@dataclass(frozen=True, slots=True)
class Names:
    name: list[str]
    female: np.ndarray


def chinese_names(*, rng: np.random.Generator, n: int, female_share: float = 0.56) -> Names:
    female = rng.random(n) < female_share
    surname = rng.choice(len(_SURNAMES), size=n, p=_SURNAME_WEIGHTS)
    two_part = rng.random(n) < 0.35
    first = rng.random(n)
    second = rng.random(n)
    names = []
    for s, f, two, u1, u2 in zip(
        surname.tolist(),
        female.tolist(),
        two_part.tolist(),
        first.tolist(),
        second.tolist(),
        strict=True,
    ):
        pool = _GIVEN_FEMALE if f else _GIVEN_MALE
        given = pool[int(u1 * len(pool))]
        if two and len(given) == 1:
            extra = pool[int(u2 * len(pool))]
            if len(extra) == 1 and extra != given:
                given += extra
        names.append(_SURNAMES[s] + given)
    return Names(name=names, female=female)
