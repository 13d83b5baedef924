"""Area codes (DOMAIN.md §2): 6 district, 9 subdistrict, 12 community, 15 grid digits, each extending its parent's.

The code is the spine of the platform: a code prefix is a subtree, so scoping, statistics and rollups use it.
"""

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DISTRICT, SUBDISTRICT, COMMUNITY, GRID = "district", "subdistrict", "community", "grid"
LEVELS = (DISTRICT, SUBDISTRICT, COMMUNITY, GRID)
CODE_LENGTH = {DISTRICT: 6, SUBDISTRICT: 9, COMMUNITY: 12, GRID: 15}
LEVEL_OF_LENGTH = {length: level for level, length in CODE_LENGTH.items()}
PARENT_LEVEL = {SUBDISTRICT: DISTRICT, COMMUNITY: SUBDISTRICT, GRID: COMMUNITY}
CHILD_LEVEL = {parent: child for child, parent in PARENT_LEVEL.items()}
# For messages: a level's name in the user's language (the codes above stay English identifiers).
LEVEL_LABELS = {DISTRICT: gettext_lazy("district"), SUBDISTRICT: gettext_lazy("subdistrict"),
                COMMUNITY: gettext_lazy("community"), GRID: gettext_lazy("grid")}
_DIGITS = re.compile(r"^\d+$")


def level_of(code: str) -> str | None:
    if not isinstance(code, str) or not _DIGITS.match(code):
        return None
    return LEVEL_OF_LENGTH.get(len(code))


def parent_code(code: str) -> str | None:
    level = level_of(code)
    if level in (None, DISTRICT):
        return None
    return code[: CODE_LENGTH[PARENT_LEVEL[level]]]


def ancestor_codes(code: str) -> list[str]:
    """The codes of every ancestor, district first (not including `code` itself)."""
    return [code[:n] for n in (6, 9, 12) if n < len(code)]


def code_errors(code, level: str, parent: str | None = None) -> list[str]:
    """Every reason `code` is not a valid code for an area of `level` under `parent` (empty when valid)."""
    errors = []
    if not isinstance(code, str) or not code:
        return [_("The code is empty.")]
    if not _DIGITS.match(code):
        errors.append(_("The code %(code)s must contain digits only.") % {"code": code})
    expected = CODE_LENGTH[level]
    if len(code) != expected:
        errors.append(
            _("A %(level)s code has %(n)d digits; %(code)s has %(m)d.")
            % {"level": LEVEL_LABELS.get(level, level), "n": expected, "code": code, "m": len(code)}
        )
    elif _DIGITS.match(code):
        suffix = code[CODE_LENGTH.get(PARENT_LEVEL.get(level), 0):]
        if level != DISTRICT and int(suffix) == 0:
            errors.append(_("The code %(code)s ends in a zero sequence.") % {"code": code})
    if parent is not None and not code.startswith(parent):
        errors.append(
            _("The code %(code)s does not extend its parent's code %(parent)s.") % {"code": code, "parent": parent}
        )
    return errors
