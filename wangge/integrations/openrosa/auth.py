"""Who is asking: OpenRosa clients sign in with the user's own account, never a shared one.

- HTTP Digest (RFC 7616, MD5, qop=auth), what ODK Collect answers a challenge with — and the only scheme it uses
  over plain HTTP. The server needs HA1 = MD5(username:realm:password) for it instead of the password: it is derived
  whenever a password is set (the post_save of set_password(), `keep_digest_secret`) or after a successful Basic
  sign-in, sealed at rest (core/pii.py), and used only while it still belongs to the user's current password hash,
  username and realm. Nonces are signed and timed (NONCE_SECONDS), bound to the client's address; an expired one is
  answered with stale=true (the client retries by itself), and a nonce/cnonce/nc triple is accepted once (a table of
  the live ones: Digest does not cover the body, so a copied header must not carry a forged submission).
- HTTP Basic, over HTTPS only (Collect offers it only to https servers; WANGGE_OPENROSA_BASIC_OVER_HTTP=True lifts
  this for a test bench), checked by the same backend as the login page.

The login page's lockout applies to both: failures count per account (and per unknown username), a locked account is
refused even with the right password, and success clears the count. Unknown and known usernames get the same answers.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from wangge.core import pii

NONCE_SECONDS = 300
HA1_PURPOSE = "openrosa.digest_ha1"


def realm():
    return getattr(settings, "WANGGE_OPENROSA_REALM", "wangge")


def _md5(text):
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_ha1(username, realm_, password):
    return _md5(f"{username}:{realm_}:{password}")


def _fingerprint(user):
    """Which stored password a secret belongs to: a password changed by any other path (an unusable password, a
    raw update) leaves the secret behind, unused."""
    return hashlib.sha256(str(user.password or "").encode()).hexdigest()


class Refused(Exception):
    """Credentials refused: 401 with a fresh challenge (stale: the client may retry by itself), or 403 (locked)."""

    def __init__(self, message, *, status=401, stale=False):
        super().__init__(message)
        self.message, self.status, self.stale = str(message), status, stale


# ---- the secret --------------------------------------------------------------------------------------------------

def do_store_digest_secret(user, password):
    """Keeps the Digest secret of `password` (just set, or just checked) for `user`."""
    from ..models import DigestSecret

    realm_ = realm()
    DigestSecret.objects.update_or_create(user=user, defaults={
        "username": user.username, "realm": realm_, "password_fingerprint": _fingerprint(user),
        "ha1_enc": pii.encrypt(digest_ha1(user.username, realm_, password), purpose=HA1_PURPOSE)})


def keep_digest_secret(sender, instance, raw=False, created=False, update_fields=None, **kwargs):
    """post_save of the user model. set_password() keeps the new password in `_password` until the save that stores
    its hash (AbstractBaseUser.save()): the one moment the server sees it. check_password() upgrading the hash of
    the same password (a new hasher, more iterations) saves only the password field without `_password`: the secret
    stays, now belonging to the new hash."""
    from ..models import DigestSecret

    if raw:
        return
    password = getattr(instance, "_password", None)
    if password is not None:
        if instance.has_usable_password():
            do_store_digest_secret(instance, password)
        return
    if not created and update_fields is not None and set(update_fields) == {"password"} \
            and instance.has_usable_password():
        DigestSecret.objects.filter(user=instance).update(password_fingerprint=_fingerprint(instance))


def _usable_ha1(user):
    try:
        secret = user.digest_secret
    except ObjectDoesNotExist:
        return None
    if (secret is None or secret.username != user.username or secret.realm != realm()
            or not hmac.compare_digest(secret.password_fingerprint, _fingerprint(user))
            or not user.has_usable_password()):
        return None
    return pii.decrypt(secret.ha1_enc, purpose=HA1_PURPOSE)


# ---- challenges ----------------------------------------------------------------------------------------------------

def _client(request):
    return request.META.get("REMOTE_ADDR", "")


def make_nonce(request, now=None):
    stamp = str(int(now if now is not None else time.time()))
    mac = salted_hmac("wangge.openrosa.nonce", f"{stamp}:{_client(request)}", algorithm="sha256").hexdigest()[:32]
    return base64.b64encode(f"{stamp}:{mac}".encode()).decode()


def _nonce_age(request, nonce):
    """Seconds since the nonce was issued to this client, or None when it is not one of ours."""
    try:
        stamp, _sep, mac = base64.b64decode(nonce.encode(), validate=True).decode().partition(":")
        issued = int(stamp)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    expected = salted_hmac("wangge.openrosa.nonce", f"{stamp}:{_client(request)}",
                           algorithm="sha256").hexdigest()[:32]
    if not hmac.compare_digest(mac, expected):
        return None
    return time.time() - issued


def _opaque():
    return salted_hmac("wangge.openrosa.opaque", realm()).hexdigest()[:32]


def basic_allowed(request):
    return request.is_secure() or getattr(settings, "WANGGE_OPENROSA_BASIC_OVER_HTTP", False)


def challenge(request, *, stale=False):
    """The WWW-Authenticate value: Digest first (what Collect picks), then Basic where it may be used."""
    value = (f'Digest realm="{realm()}", qop="auth", algorithm=MD5, nonce="{make_nonce(request)}", '
             f'opaque="{_opaque()}"')
    if stale:
        value += ", stale=true"
    if basic_allowed(request):
        value += f', Basic realm="{realm()}", charset="UTF-8"'
    return value


# ---- checking ------------------------------------------------------------------------------------------------------

_PARAM = re.compile(r'([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_digest(text):
    return {match.group(1).lower(): re.sub(r"\\(.)", r"\1", match.group(2)) if match.group(2) is not None
            else match.group(3) for match in _PARAM.finditer(text)}


def _header_text(value):
    """Header values reach WSGI as latin-1; clients send UTF-8 for non-ASCII names."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _locked_message():
    minutes = max(1, round(settings.WANGGE_LOGIN_LOCK_SECONDS / 60))
    return _("Too many failed sign-ins: this account is blocked for %(minutes)s minutes.") % {"minutes": minutes}


def _refused(refused):
    """The OpenRosa answer to an accounts SignInRefused."""
    if refused.locked:
        return Refused(_locked_message(), status=403)
    return Refused(_("The username or password is wrong."))


def _known(username):
    """The account of `username` with its Digest secret (None when there is none); Refused when it is locked out."""
    from wangge.accounts.models import User
    from wangge.accounts.services import SignInRefused, ensure_not_locked

    user = User.objects.select_related("digest_secret").filter(username=username).first()
    try:
        ensure_not_locked(username, user)
    except SignInRefused as refused:
        raise _refused(refused) from refused
    return user


PRUNE_ONE_IN = 64


def _first_use(params):
    """Records an answered nonce/cnonce/nc triple; False when it was answered before (a replayed request). One
    indexed insert; now and then the rows older than any live nonce go."""
    from ..models import DigestNonceUse

    key = hashlib.sha256(f"{params['nonce']}:{params['cnonce']}:{params['nc']}".encode()).hexdigest()
    now = timezone.now()
    table = connection.ops.quote_name(DigestNonceUse._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO {table} ("key", "at") VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING "key"',
                       [key, now])
        fresh = cursor.fetchone() is not None
        if secrets.randbelow(PRUNE_ONE_IN) == 0:
            cursor.execute(f'DELETE FROM {table} WHERE "at" < %s', [now - timedelta(seconds=NONCE_SECONDS + 60)])
    return fresh


def check_digest(request, params):
    from wangge.accounts.services import do_record_login_success

    for key in ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce"):
        if not params.get(key):
            raise Refused(_("Incomplete Digest credentials."))
    if params["realm"] != realm() or params.get("algorithm", "MD5").upper() != "MD5" or params["qop"] != "auth":
        raise Refused(_("Answer the challenge as given: realm, MD5, qop=auth."))
    if unquote(urlsplit(params["uri"]).path) != request.path:
        raise Refused(_("The Digest uri is not this request's."))
    age = _nonce_age(request, params["nonce"])
    if age is None:
        raise Refused(_("Unknown nonce."))
    if age > NONCE_SECONDS or age < -60:
        raise Refused(_("The nonce has expired."), stale=True)
    username = params["username"]
    user = _known(username)
    ha1 = _usable_ha1(user) if user is not None and user.is_active else None
    # An unknown or inactive user, and an account with no usable Digest secret yet, is checked against a random
    # secret and refused whatever it answers: the answer is a wrong password's, counted towards the lockout, so
    # nobody learns which usernames exist.
    usable = ha1 is not None
    ha1 = ha1 or _md5(f"{username}:{realm()}:{secrets.token_hex(16)}")
    ha2 = _md5(f"{request.method}:{params['uri']}")
    expected = _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}")
    if not hmac.compare_digest(expected, params["response"].lower()) or not usable:
        from wangge.accounts.services import SignInRefused, do_record_sign_in_failure

        raise _refused(SignInRefused(locked=do_record_sign_in_failure(username, user)))
    if not _first_use(params):
        raise Refused(_("This request was already answered."), stale=True)
    do_record_login_success(user)
    return user


def check_basic(request, encoded):
    if not basic_allowed(request):
        raise Refused(_("Basic sign-in needs HTTPS; over plain HTTP, use Digest."))
    try:
        decoded = base64.b64decode(encoded.strip().encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise Refused(_("Malformed Basic credentials.")) from exc
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    username, sep, password = text.partition(":")
    if not sep or not username:
        raise Refused(_("Malformed Basic credentials."))
    from wangge.accounts.services import SignInRefused, do_sign_in

    known = _known(username)
    try:
        user = do_sign_in(request, username, password, known=known)
    except SignInRefused as refused:
        raise _refused(refused) from refused
    # `known` was read with its secret; a hash upgrade by the backend moved the secret's fingerprint along with it.
    if _usable_ha1(known) is None:  # an account older than Digest support, or a changed realm: ready for next time
        do_store_digest_secret(user, password)
    return user


def authenticated_user(request):
    """The user of an OpenRosa request, or Refused. No credentials at all: Refused with an empty message (the
    challenge)."""
    header = _header_text(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _sep, rest = header.partition(" ")
    if scheme.lower() == "digest":
        return check_digest(request, parse_digest(rest))
    if scheme.lower() == "basic":
        return check_basic(request, rest)
    raise Refused("")
