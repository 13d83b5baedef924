from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboxConfig(AppConfig):
    name = "wangge.outbox"
    label = "outbox"
    verbose_name = _("Outbound notifications")

    def ready(self):
        from django.core import checks

        from . import channels

        checks.register(channels.check_configuration, "outbox")
