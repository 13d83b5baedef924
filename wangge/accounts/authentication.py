import hmac
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from .models import ApiKey, hash_api_key

LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key wg_<prefix>_<secret>` for systems (integrations)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(self.keyword + " "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        parts = raw.split("_")
        if len(parts) < 3 or parts[0] != "wg":
            raise exceptions.AuthenticationFailed(_("Malformed API key."))
        key = ApiKey.objects.select_related("user").filter(prefix=parts[1]).first()
        valid = key is not None and hmac.compare_digest(key.key_hash, hash_api_key(raw))
        if not valid or not key.is_usable() or not key.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        now = timezone.now()
        # Recording every use would add a write to every request; a minute's precision is enough to audit keys.
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user, key

    def authenticate_header(self, request):
        return self.keyword
