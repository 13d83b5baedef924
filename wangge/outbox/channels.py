"""Outbound channels: one interface, several ways out (SMS gateway, IM robot webhook, capture).

A channel is a class with a `name` and `send(message) -> None`; `send` raises `TransientError` when a later attempt
may succeed (network down, 5xx, 429, a rate limit) and `PermanentError` when none will (4xx, a refused payload). The
channels in use are configured by settings.OUTBOX_CHANNELS, `{name: {"class": dotted path, option: value, …}}`;
every channel takes `max_attempts`, `backoff_seconds`, `max_backoff_seconds`, the HTTP ones also `url` (or
`url_env`), `key_env`, `key_header`, `timeout`. Secrets are never in settings: `*_env` names the environment variable
that holds them. See docs/notifications.md.

Error messages say what failed without personal data: no address, no request or response body, no URL (a robot's URL
carries its token).
"""

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from wangge.core import pii
from wangge.core.errors import DomainError


class TransientError(Exception):
    """Try again later (with back-off)."""


class PermanentError(Exception):
    """Give up: no later attempt can succeed."""


@dataclass(frozen=True)
class Message:
    """What a channel sends. `address` is the plain recipient address (None for channels without one): never log
    it, never put it into an error."""

    id: int
    channel: str
    recipient_id: int
    kind: str
    title: str
    text: str
    case_number: str | None = None
    address: str | None = field(default=None, repr=False)

    @property
    def idempotency_key(self):
        """The same on every attempt of one message, so a receiver can drop a repeat (an attempt whose answer was
        lost is sent again)."""
        return f"wangge-outbox-{self.id}"


class Channel:
    """The interface. `needs_address`: the recipient must have an active OutboundAddress for this channel (else no
    message is queued for them); channels without one (capture) get every notification."""

    needs_address = True
    max_attempts = 6
    backoff_seconds = 60
    max_backoff_seconds = 3600

    def __init__(self, name, **options):
        self.name = name
        for key in ("max_attempts", "backoff_seconds", "max_backoff_seconds"):
            if key in options:
                setattr(self, key, int(options.pop(key)))
        self.options = options

    def send(self, message: Message) -> None:
        raise NotImplementedError

    def clean_address(self, value: str) -> str:
        """The address in its stored form, or DomainError on `address` (the message never repeats the value)."""
        value = (value or "").strip()
        if not value or len(value) > 128 or any(ch.isspace() for ch in value):
            raise DomainError(_("Not a valid address for this channel."), field="address")
        return value

    def mask(self, value: str) -> str:
        return pii.mask_phone(value)[:64]

    def backoff(self, attempts: int) -> int:
        """Seconds to wait after the `attempts`-th failure: 1, 2, 4 … times `backoff_seconds`, at most the cap."""
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.max_backoff_seconds)

    def problems(self):
        """Configuration problems (strings), for the system check."""
        return []


class CaptureChannel(Channel):
    """Delivers into the database (CapturedMessage): tests, and the offline demo, where nothing may leave the machine.
    Needs no address: every notification is captured."""

    needs_address = False

    def send(self, message):
        from .models import CapturedMessage

        CapturedMessage.objects.create(message_id=message.id, channel=self.name, recipient_id=message.recipient_id,
                                       title=message.title, text=message.text)


_no_redirects = type("NoRedirects", (urllib.request.HTTPRedirectHandler,),
                     {"redirect_request": lambda self, *args, **kwargs: None})


class HttpChannel(Channel):
    """POSTs JSON to a URL. 2xx: sent; 408, 429 and 5xx, timeouts and refused connections: transient; any other
    answer (4xx, a redirect — never followed, a POST must not turn into a GET): permanent. The environment's proxy
    variables are ignored (an intranet gateway is reached directly) unless `proxy` names one."""

    timeout = 10

    def __init__(self, name, **options):
        super().__init__(name, **options)
        self.timeout = float(self.options.get("timeout", self.timeout))
        proxy = self.options.get("proxy")
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}), _no_redirects)

    @property
    def url(self):
        if self.options.get("url_env"):
            return os.environ.get(self.options["url_env"], "")
        return self.options.get("url", "")

    def headers(self, message):
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.idempotency_key}
        if self.options.get("key_env"):
            key = os.environ.get(self.options["key_env"], "")
            if not key:
                raise PermanentError(f"the API key variable {self.options['key_env']} is not set")
            headers[self.options.get("key_header", "X-Api-Key")] = key
        return headers

    def post(self, message, body):
        """Sends `body` as JSON; returns the parsed JSON answer (or None)."""
        url = self.url
        if urlsplit(url).scheme not in ("http", "https"):
            raise PermanentError("the channel has no http(s) URL configured")
        request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(),  # noqa: S310
                                         headers=self.headers(message), method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (408, 429) or exc.code >= 500:
                raise TransientError(f"HTTP {exc.code}") from None
            raise PermanentError(f"HTTP {exc.code}") from None
        except TimeoutError:
            raise TransientError("timed out") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            kind = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
            raise TransientError(f"connection failed ({kind})") from None
        except (ConnectionError, OSError) as exc:
            raise TransientError(f"connection failed ({type(exc).__name__})") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def problems(self):
        found = []
        if self.options.get("url_env"):
            if not os.environ.get(self.options["url_env"]):
                found.append(f"the environment variable {self.options['url_env']} (its URL) is not set")
        elif urlsplit(self.options.get("url", "")).scheme not in ("http", "https"):
            found.append("needs an http(s) `url` or a `url_env`")
        if self.options.get("key_env") and not os.environ.get(self.options["key_env"]):
            found.append(f"the environment variable {self.options['key_env']} (its API key) is not set")
        return found


_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class SmsChannel(HttpChannel):
    """An SMS gateway on the intranet (or a carrier's HTTP API behind one): POST {"to", "text", "id"} with the API key
    in a header. `prefix` goes before the text (the signature a carrier requires, e.g. 【网格】)."""

    def clean_address(self, value):
        compact = re.sub(r"[\s()-]", "", (value or "").strip())
        if compact.startswith("+86"):
            compact = compact[3:]
        if not _MOBILE.match(compact):
            raise DomainError(_("Not a mobile number: 11 digits, starting with 1."), field="address")
        return compact

    def send(self, message):
        text = self.options.get("prefix", "") + message.title + (f"\n{message.text}" if message.text else "")
        self.post(message, {"to": message.address, "text": text, "id": message.idempotency_key})


# Rate limits of the robots: DingTalk 130101 ("send too fast"), WeCom 45009 ("api freq out of limit").
_RATE_LIMITED = {130101, 45009}


class ImWebhookChannel(HttpChannel):
    """An IM robot's webhook (WeCom/DingTalk style, or our own JSON). The address is the recipient's account id on the
    IM, mentioned in the message. `format`: "json" (default: {"title", "text", "to", "id"}), "dingtalk" (markdown,
    at.atUserIds) or "wecom" (markdown, <@userid>). For the robots, an answer with a non-zero `errcode` is an error
    (a rate limit is transient, anything else permanent)."""

    FORMATS = ("json", "dingtalk", "wecom")

    def clean_address(self, value):
        value = super().clean_address(value)
        if not re.match(r"^[\w.@+-]{1,64}$", value):
            raise DomainError(_("Not a valid account id: letters, digits and . _ - + @ only."), field="address")
        return value

    def mask(self, value):
        return (value[:2] + "***" + value[-2:]) if len(value) > 6 else value[:1] + "***"

    def body(self, message):
        style = self.options.get("format", "json")
        if style == "dingtalk":
            return {"msgtype": "markdown",
                    "markdown": {"title": message.title, "text": f"### {message.title}\n\n{message.text}".strip()},
                    "at": {"atUserIds": [message.address]}}
        if style == "wecom":
            content = f"**{message.title}**\n{message.text}".strip() + f"\n<@{message.address}>"
            return {"msgtype": "markdown", "markdown": {"content": content}}
        return {"title": message.title, "text": message.text, "to": message.address, "id": message.idempotency_key}

    def send(self, message):
        answer = self.post(message, self.body(message))
        if self.options.get("format", "json") != "json" and isinstance(answer, dict):
            code = answer.get("errcode", 0)
            if code not in (0, "0", None):
                if code in _RATE_LIMITED:
                    raise TransientError(f"rate limited (errcode {code})")
                raise PermanentError(f"refused (errcode {code})")

    def problems(self):
        found = super().problems()
        if self.options.get("format", "json") not in self.FORMATS:
            found.append(f"`format` must be one of {', '.join(self.FORMATS)}")
        return found


def _build(name, config):
    options = dict(config)
    cls = import_string(options.pop("class"))
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise TypeError(f"{cls!r} is not a Channel")
    return cls(name, **options)


@lru_cache(maxsize=1)
def _configured(frozen):
    return {name: _build(name, json.loads(config)) for name, config in frozen}


def configured() -> dict:
    """{name: channel} from settings.OUTBOX_CHANNELS (built once per configuration)."""
    conf = getattr(settings, "OUTBOX_CHANNELS", {}) or {}
    return _configured(tuple(sorted((name, json.dumps(config, sort_keys=True)) for name, config in conf.items())))


def addressable():
    """The configured channels a user can give an address for."""
    return {name: channel for name, channel in configured().items() if channel.needs_address}


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting == "OUTBOX_CHANNELS":
        _configured.cache_clear()


def check_configuration(app_configs=None, **kwargs):
    """`manage.py check`: every configured channel can be built and has what it needs."""
    errors = []
    conf = getattr(settings, "OUTBOX_CHANNELS", {}) or {}
    for name, config in conf.items():
        if not re.match(r"^[a-z][a-z0-9_]{0,31}$", str(name)):
            errors.append(checks.Error(f"OUTBOX_CHANNELS: {name!r} is not a channel name (a-z, 0-9, _; 32 at most)",
                                       id="outbox.E001"))
            continue
        try:
            channel = _build(name, config)
        except Exception as exc:
            errors.append(checks.Error(f"OUTBOX_CHANNELS[{name!r}]: {exc}", id="outbox.E002"))
            continue
        errors.extend(checks.Warning(f"OUTBOX_CHANNELS[{name!r}]: {problem}", id="outbox.W001")
                      for problem in channel.problems())
    return errors
