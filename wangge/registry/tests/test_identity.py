"""DOMAIN.md §8 test vectors: resident ID numbers (GB 11643), credit codes (GB 32100), phone numbers."""

import datetime

import pytest
from stdnum.cn import ric

from wangge.core.errors import DomainError
from wangge.registry import identity


def _with_check(body17):
    return body17 + ric.calc_check_digit(body17 + "?")  # stdnum expects a placeholder for the check digit


@pytest.mark.parametrize("value", ["360426199101010071", "120103198806018241", "11010519491231002X"])
def test_valid_id_numbers_are_accepted(value):
    assert identity.clean_id_number(value) == value


def test_gender_and_birth_date_come_from_the_id_number():
    assert identity.gender_of("360426199101010071") == "male"  # 17th digit 7: odd
    assert identity.gender_of("120103198806018241") == "female"  # 4: even
    assert identity.birth_date_of("11010519491231002X") == datetime.date(1949, 12, 31)


def test_an_old_15_digit_number_is_upgraded_to_18():
    assert identity.clean_id_number("360426910101007") == "360426199101010071"


def test_spaces_around_a_number_are_dropped():
    assert identity.clean_id_number("  360426199101010071 ") == "360426199101010071"


@pytest.mark.parametrize(("value", "words"), [
    ("360426199101010072", "check character"),  # DOMAIN.md: invalid checksum
    ("11010519491231002x", "capital X"),  # lower-case x
    (_with_check("36042619910230007"), "does not exist"),  # 30 February
    (_with_check("36042619911301007"), "does not exist"),  # month 13
    ("360426910230007", "does not exist"),  # 15 digits, impossible date
    (_with_check("36042620990101007"), "future"),
    ("36042619910101007", "18 characters"),  # one short
    ("3604261991010100711", "18 characters"),
    ("", "required"),
    ("36042619910101007A", "check"),
])
def test_invalid_id_numbers_are_refused_with_the_reason_and_without_the_number(value, words):
    with pytest.raises(DomainError) as error:
        identity.clean_id_number(value)
    assert error.value.field == "id_number"
    assert words in error.value.message
    if value:
        assert value not in error.value.message


@pytest.mark.parametrize("value", ["91110000101623741K", "911101066976941872", "91350100M000100Y43"])
def test_valid_credit_codes_are_accepted(value):
    assert identity.clean_uscc(value) == value


def test_a_lower_case_credit_code_is_read_in_capitals():
    assert identity.clean_uscc("91350100m000100y43") == "91350100M000100Y43"


@pytest.mark.parametrize(("value", "words"), [
    ("91110000101623741J", "check character"),
    ("91110000101623741", "18 characters"),
    ("9111000010162374IK", "letters"),  # I is not in the alphabet
    ("", "required"),
])
def test_invalid_credit_codes_are_refused(value, words):
    with pytest.raises(DomainError) as error:
        identity.clean_uscc(value)
    assert error.value.field == "uscc" and words in error.value.message


@pytest.mark.parametrize(("value", "clean"), [
    ("13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("+86 19912345678", "19912345678"),
    ("0531-12345678", "0531-12345678"),
    ("053112345678", "053112345678"),
])
def test_phones_are_accepted_in_canonical_form(value, clean):
    assert identity.clean_phone(value) == clean


@pytest.mark.parametrize("value", ["12345678901", "1380013800", "138001380001", "call me", "0531-99", ""])
def test_malformed_phones_are_refused_without_echoing_them(value):
    with pytest.raises(DomainError) as error:
        identity.clean_phone(value)
    assert error.value.field == "phone"
    if value:
        assert value not in error.value.message
