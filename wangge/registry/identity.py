"""Identity numbers (DOMAIN.md §8): resident ID (GB 11643), unified social credit code (GB 32100), phone numbers.

Each `clean_*` returns the canonical form or raises DomainError naming the field and the reason, in words a data
entry clerk understands. The checksums themselves come from python-stdnum.
"""

import datetime
import re
from functools import lru_cache

from django.utils.translation import gettext as _
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from wangge.core.errors import DomainError

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def upgrade_15_digit_id(value: str) -> str:
    """Old 15-digit ID numbers (paper records before 1999): insert the century (19) and add the check digit."""
    body = value[:6] + "19" + value[6:]
    return body + ric.calc_check_digit(body + "?")  # stdnum expects a placeholder where the check digit goes


def clean_id_number(value, *, field="id_number") -> str:
    """An 18-character resident ID number: checksum, real birth date (not in the future), upper-case X only."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError(_("An ID number is required."), field=field)
    value = value.strip()
    if value.endswith("x"):
        raise DomainError(_("The check character must be a capital X."), field=field)
    if len(value) == 15 and value.isdigit():
        try:
            datetime.date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
        except ValueError as exc:
            raise DomainError(_("The birth date in this ID number does not exist."), field=field) from exc
        value = upgrade_15_digit_id(value)
    if len(value) != 18:
        raise DomainError(_("An ID number has 18 characters (or 15 digits on old records)."), field=field)
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise DomainError(_("An ID number has 17 digits and a check digit or X."), field=field)
    if value[17] != ric.calc_check_digit(value):
        raise DomainError(_("The check character of this ID number is wrong."), field=field)
    try:
        ric.get_birth_date(value)
    except ValidationError as exc:
        raise DomainError(_("The birth date in this ID number does not exist."), field=field) from exc
    # The address code must be a real county code, of any year. stdnum's own check (ric.validate) also demands
    # that the county existed in the birth year, which refuses real numbers: everybody born before ID cards
    # (1984) got the code of where they were registered then, e.g. 370103 for a resident of 市中区 born in 1950.
    if not known_address_code(value[:6]):
        raise DomainError(_("The first six digits of this ID number are not an address code."), field=field)
    if ric.get_birth_date(value) > datetime.date.today():
        raise DomainError(_("The birth date in this ID number is in the future."), field=field)
    return value


@lru_cache(maxsize=8192)
def known_address_code(code: str) -> bool:
    """Whether `code` (6 digits) is a county code of GB/T 2260, of any year (see clean_id_number)."""
    return all(props for _part, props in numdb.get("cn/loc").info(code))


def birth_date_of(id_number: str) -> datetime.date:
    return ric.get_birth_date(id_number)


def gender_of(id_number: str) -> str:
    """GB 11643: the 17th character is odd for men, even for women."""
    return "male" if int(id_number[16]) % 2 else "female"


def clean_uscc(value, *, field="uscc") -> str:
    if not isinstance(value, str) or not value.strip():
        raise DomainError(_("A unified social credit code is required."), field=field)
    try:
        return uscc.validate(value.strip().upper())
    except InvalidLength as exc:
        raise DomainError(_("A unified social credit code has 18 characters."), field=field) from exc
    except InvalidChecksum as exc:
        raise DomainError(_("The check character of this credit code is wrong."), field=field) from exc
    except (InvalidFormat, InvalidComponent, ValidationError) as exc:
        raise DomainError(_("A credit code uses digits and the letters ABCDEFGHJKLMNPQRTUWXY only."),
                          field=field) from exc


def clean_phone(value, *, field="phone") -> str:
    """A mobile number (11 digits, 1[3-9]…) or a landline with its area code (0531-12345678); +86 is dropped."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError(_("A phone number is required."), field=field)
    compact = re.sub(r"[\s()]", "", value.strip())
    if compact.startswith("+86"):
        compact = compact[3:]
    if _MOBILE.match(compact) or _LANDLINE.match(compact):
        return compact
    raise DomainError(_("Not a phone number: use 11 digits for a mobile, or the area code and number for a "
                        "landline (0531-12345678)."), field=field)
