from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "wangge.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import schema  # noqa: F401 — registers the API-key scheme with drf-spectacular
        from .roles import ensure_default_roles

        post_migrate.connect(ensure_default_roles, sender=self)
