import hmac

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from .models import ApiKey, hash_api_key


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
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key.user, key

    def authenticate_header(self, request):
        return self.keyword
