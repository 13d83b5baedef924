from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "wangge.registry"
    label = "registry"
    verbose_name = _("Registry")

    def ready(self):
        from wangge.geo.services import register_activation_hook

        from .services import reassign_after_activation

        register_activation_hook(reassign_after_activation)

        from wangge.geo.validation import HOUSEHOLD_COUNTERS

        from .coverage import household_counter

        if household_counter not in HOUSEHOLD_COUNTERS:
            HOUSEHOLD_COUNTERS.append(household_counter)
