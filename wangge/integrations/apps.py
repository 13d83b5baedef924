from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "wangge.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save

        from .openrosa.auth import keep_digest_secret

        # A password set through set_password() is seen once, when the user is saved: the OpenRosa Digest secret
        # (HA1) is derived from it then (integrations/openrosa/auth.py).
        post_save.connect(keep_digest_secret, sender=settings.AUTH_USER_MODEL,
                          dispatch_uid="integrations.openrosa.digest_secret")
