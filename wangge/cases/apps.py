from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "wangge.cases"
    label = "cases"
    verbose_name = _("Cases")

    def ready(self):
        from django.db.models.signals import post_delete, post_migrate, post_save

        from wangge.workforce.models import Department

        from . import calendar, categories, routing
        from .categories import seed_categories
        from .models import CalendarDay, Category, RoutingRule
        from .services import load_builtin_calendars

        post_migrate.connect(load_builtin_calendars, sender=self)
        post_migrate.connect(seed_categories, sender=self)
        # The in-memory reference tables (wangge.core.refcache) are cleared on every edit, the admin's and the
        # shell's included. A bulk write (bulk_create, QuerySet.update) sends no signal: its caller invalidates.
        post_save.connect(calendar.on_calendar_change, sender=CalendarDay)
        post_delete.connect(calendar.on_calendar_change, sender=CalendarDay)
        for model, table in ((Category, categories.by_id), (RoutingRule, routing.active_rules),
                             (Department, routing.active_rules)):
            post_save.connect(table.on_change, sender=model, weak=False)
            post_delete.connect(table.on_change, sender=model, weak=False)
