from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class CharacterClassValidator:
    """Password complexity (MLPS level 3): at least `min_classes` of lower case, upper case, digits, symbols."""

    def __init__(self, min_classes=3):
        self.min_classes = min_classes

    def _classes(self, password):
        return sum([
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ])

    def validate(self, password, user=None):
        if self._classes(password) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self):
        return ngettext(
            "Your password must mix at least %(n)d kind of character (lower case, upper case, digits, symbols).",
            "Your password must mix at least %(n)d kinds of character (lower case, upper case, digits, symbols).",
            self.min_classes,
        ) % {"n": self.min_classes} if self.min_classes else _("Any password.")
