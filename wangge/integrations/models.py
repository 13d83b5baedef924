"""Connectors to outside systems. So far: what the OpenRosa server (ODK Collect, Enketo) needs beside the user
table — the Digest secret of each user's password (integrations/openrosa/auth.py)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DigestSecret(models.Model):
    """A user's HTTP Digest secret for OpenRosa clients: HA1 = MD5(username:realm:password), which Digest (RFC 7616,
    MD5, as ODK Collect speaks it) needs in place of the password. Kept when a password is set, sealed like other
    secrets (core/pii.py), and used only while it still belongs to the password it came from (a fingerprint of the
    stored password hash), the same username and the same realm."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_secret",
                                primary_key=True)
    username = models.CharField(max_length=150)
    realm = models.CharField(max_length=100)
    ha1_enc = models.TextField(editable=False)
    password_fingerprint = models.CharField(max_length=64, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("OpenRosa digest secret")
        verbose_name_plural = _("OpenRosa digest secrets")

    def __str__(self):
        return self.username


class DigestNonceUse(models.Model):
    """One answered Digest request (its nonce, cnonce and count, hashed): the same triple again is a replay. Rows
    outlive their nonce by a minute and are pruned as new ones come (auth.py)."""

    key = models.CharField(max_length=64, primary_key=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("OpenRosa digest request")
        verbose_name_plural = _("OpenRosa digest requests")

    def __str__(self):
        return self.key
