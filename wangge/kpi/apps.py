from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpiConfig(AppConfig):
    name = "wangge.kpi"
    label = "kpi"
    verbose_name = _("KPIs and assessment")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .services import after_migrate

        post_migrate.connect(after_migrate, sender=self)
