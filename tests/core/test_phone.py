import pytest

from patron.core.phone import mask_phone, normalise_email, normalise_phone


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "86-13800138000",
    ],
)
def test_mainland_mobiles_in_any_spelling_become_one_e164(text: str) -> None:
    assert normalise_phone(text) == "+8613800138000"


def test_landlines_and_foreign_numbers_use_libphonenumber() -> None:
    assert normalise_phone("010-6552 9988") == "+861065529988"
    assert normalise_phone("+1 650-253-0000") == "+16502530000"


@pytest.mark.parametrize("text", ["12345", "abc", "1380013800", "+86 123"])
def test_invalid_phones_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalise_phone(text)


def test_email_is_lower_cased_and_checked() -> None:
    assert normalise_email("  Zhang.San@Example.COM ") == "zhang.san@example.com"
    with pytest.raises(ValueError, match="e-mail"):
        normalise_email("zhang@")


def test_masked_phone_shows_only_the_ends() -> None:
    assert mask_phone("+8613800138000") == "138****8000"
