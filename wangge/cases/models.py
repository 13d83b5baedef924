"""The work calendar: the days that break the weekly rule (Monday–Friday working, Saturday and Sunday off).

Every day not listed here follows the weekly rule. A year's rows come from the State Council General Office's
notice on that year's holidays (国务院办公厅关于…部分节假日安排的通知); see docs/time-limits.md.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from wangge.core.changelog import track_changes


@track_changes()
class CalendarDay(models.Model):
    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("public holiday")
        MAKEUP_WORKDAY = "makeup_workday", _("make-up working day (调休上班)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50, blank=True, help_text=_("e.g. 春节, or 国庆节 调休上班."))
    year = models.PositiveSmallIntegerField(_("year"), db_index=True, editable=False)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()

    def save(self, *args, **kwargs):
        self.year = self.date.year
        super().save(*args, **kwargs)
