from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "wangge.campaigns"
    label = "campaigns"
    verbose_name = _("Screening campaigns")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .household_form import ensure_household_form

        post_migrate.connect(ensure_household_form, sender=self)
