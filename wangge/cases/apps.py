from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "wangge.cases"
    label = "cases"
    verbose_name = _("Cases")

    def ready(self):
        from django.db.models.signals import post_delete, post_migrate, post_save

        from . import calendar
        from .categories import seed_categories
        from .models import CalendarDay
        from .services import load_builtin_calendars

        post_migrate.connect(load_builtin_calendars, sender=self)
        post_migrate.connect(seed_categories, sender=self)
        # Edits by the services clear the cache themselves; these catch the admin and the shell.
        post_save.connect(calendar.on_calendar_change, sender=CalendarDay)
        post_delete.connect(calendar.on_calendar_change, sender=CalendarDay)
