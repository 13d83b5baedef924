"""Queueing with the notification, delivery over real HTTP, retries with back-off, giving up, and no personal data
in errors or logs."""

import json
import logging
import socket
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from wangge.cases.models import Notification
from wangge.cases.notifications import notify
from wangge.core.testing import make_user
from wangge.outbox import channels, jobs, services
from wangge.outbox.models import CapturedMessage, OutboundAddress, OutboxMessage

from .conftest import PHONE, SMS_KEY, add_phone, channel_config

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status


def _notify(user, title="0103-20250101-00001: clock warning", body="Due 2025-01-02 17:30."):
    return notify([user], Notification.Kind.WARNING, None, title, body)


def _queued_jobs(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'", [name])
        return cursor.fetchone()[0]


# Queueing ------------------------------------------------------------------------------------------------------------

def test_one_message_per_channel_the_recipient_has_an_active_address_for(configured):
    with_phone, with_both, with_none = make_user("grid_worker"), make_user("grid_worker"), make_user("grid_worker")
    add_phone(with_phone)
    add_phone(with_both, "13900001111")
    services.do_add_address(actor=with_both, channel="im_webhook", address="zhangsan")
    notify([with_phone, with_both, with_none], Notification.Kind.OTHER, None, "title")
    queued = sorted(OutboxMessage.objects.values_list("recipient_id", "channel", "status"))
    assert queued == sorted([(with_phone.pk, "sms", "pending"), (with_both.pk, "sms", "pending"),
                             (with_both.pk, "im_webhook", "pending")])


def test_a_notification_without_addresses_queues_nothing(configured):
    user = make_user("grid_worker")
    rows = _notify(user)
    assert len(rows) == 1 and OutboxMessage.objects.count() == 0


def test_inactive_addresses_and_inactive_users_get_nothing(configured):
    paused, gone = make_user("grid_worker"), make_user("grid_worker")
    services.do_update_address(add_phone(paused), actor=paused, active=False)
    add_phone(gone, "13900001111")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    notify([paused, gone], Notification.Kind.OTHER, None, "title")
    assert OutboxMessage.objects.count() == 0


def test_capture_gets_every_notification_when_enabled(settings, gateway):
    settings.OUTBOX_CHANNELS = channel_config(gateway, capture=True)
    user = make_user("grid_worker")
    _notify(user)
    assert list(OutboxMessage.objects.values_list("channel", flat=True)) == ["capture"]
    assert services.deliver_due() == {"sent": 1}
    captured = CapturedMessage.objects.get()
    assert (captured.recipient, captured.channel, captured.title) == (user, "capture",
                                                                      "0103-20250101-00001: clock warning")
    assert gateway.requests == []


def test_the_default_configuration_sends_nothing_off_the_machine():
    from django.conf import settings

    assert set(settings.OUTBOX_CHANNELS) == {"capture"}
    assert all(not channel.needs_address for channel in channels.configured().values())


def test_messages_commit_with_their_notifications_or_not_at_all(configured):
    user = make_user("grid_worker")
    add_phone(user)
    with pytest.raises(RuntimeError), transaction.atomic():
        _notify(user)
        assert OutboxMessage.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after notify")
    assert Notification.objects.filter(recipient=user).count() == 0 and OutboxMessage.objects.count() == 0


def test_the_delivery_job_is_deferred_on_commit_once(configured, django_capture_on_commit_callbacks):
    user = make_user("grid_worker")
    add_phone(user)
    assert _queued_jobs("outbox.deliver") == 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _notify(user)
    assert _queued_jobs("outbox.deliver") == 0 and len(callbacks) == 1  # nothing before the commit
    callbacks[0]()
    assert _queued_jobs("outbox.deliver") == 1
    with django_capture_on_commit_callbacks(execute=True):
        _notify(user, title="second")
    assert _queued_jobs("outbox.deliver") == 1  # one waiting job for both (its queueing lock)


# Delivery ------------------------------------------------------------------------------------------------------------

def test_sms_is_posted_to_the_gateway_with_the_key(configured, gateway):
    user = make_user("grid_worker")
    add_phone(user, "+86 138-1234-5678")
    _notify(user)
    message = OutboxMessage.objects.get()
    assert jobs.deliver() == {"sent": 1}  # what the worker runs
    [request] = gateway.requests
    assert request["path"] == "/sms"
    assert request["headers"]["X-Api-Key"] == SMS_KEY
    assert request["headers"]["Idempotency-Key"] == f"wangge-outbox-{message.pk}"
    assert request["json"] == {"to": PHONE, "id": f"wangge-outbox-{message.pk}",
                               "text": "【网格】0103-20250101-00001: clock warning\nDue 2025-01-02 17:30."}
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Status.SENT, 1, "")
    assert message.sent_at is not None
    assert services.deliver_due() == {}  # a second run finds nothing to send
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("style", ["json", "dingtalk", "wecom"])
def test_im_webhook_bodies(settings, gateway, style):
    settings.OUTBOX_CHANNELS = channel_config(gateway, im_webhook={"format": style})
    user = make_user("grid_worker")
    services.do_add_address(actor=user, channel="im_webhook", address="zhangsan")
    _notify(user, title="Case 7: red card", body="Overdue.")
    assert services.deliver_due() == {"sent": 1}
    [body] = gateway.bodies("/im")
    if style == "json":
        assert body["title"] == "Case 7: red card" and body["text"] == "Overdue." and body["to"] == "zhangsan"
    elif style == "dingtalk":
        assert body["msgtype"] == "markdown" and body["at"] == {"atUserIds": ["zhangsan"]}
        assert body["markdown"]["title"] == "Case 7: red card" and "Overdue." in body["markdown"]["text"]
    else:
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["content"] == "**Case 7: red card**\nOverdue.\n<@zhangsan>"


def test_robot_errcodes(settings, gateway):
    settings.OUTBOX_CHANNELS = channel_config(gateway, im_webhook={"format": "dingtalk"})
    user = make_user("grid_worker")
    services.do_add_address(actor=user, channel="im_webhook", address="zhangsan")
    gateway.answer((200, {"errcode": 130101, "errmsg": "send too fast"}), (200, {"errcode": 310000}))
    _notify(user)
    message = OutboxMessage.objects.get()
    services.deliver_due()
    message.refresh_from_db()
    assert (message.status, message.last_error) == (Status.FAILED, "rate limited (errcode 130101)")
    services.deliver_due(now=message.next_attempt_at)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Status.DEAD, 2, "refused (errcode 310000)")


# Retries -------------------------------------------------------------------------------------------------------------

def test_a_500_is_retried_after_a_back_off(configured, gateway):
    user = make_user("grid_worker")
    add_phone(user)
    gateway.answer(500, 200)
    _notify(user)
    start = timezone.now()
    assert services.deliver_due(now=start) == {"failed": 1}
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == (Status.FAILED, 1, "HTTP 500")
    assert message.next_attempt_at == start + timedelta(minutes=1)
    assert services.deliver_due(now=start + timedelta(seconds=59)) == {}  # not due yet
    assert services.deliver_due(now=start + timedelta(seconds=61)) == {"sent": 1}
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Status.SENT, 2, "")
    keys = [r["headers"]["Idempotency-Key"] for r in gateway.requests]
    assert len(keys) == 2 and len(set(keys)) == 1  # the same key on the retry


def test_dead_after_the_maximum_attempts_with_exponential_back_off(configured, gateway):
    user = make_user("grid_worker")
    add_phone(user)
    gateway.default = (503, {"busy": True})
    _notify(user)
    moment, waits = timezone.now(), []
    for _attempt in range(3):  # max_attempts 3 in the test configuration
        services.deliver_due(now=moment)
        message = OutboxMessage.objects.get()
        if message.status == Status.FAILED:
            waits.append((message.next_attempt_at - moment).total_seconds())
            moment = message.next_attempt_at
    assert waits == [60, 120]
    assert (message.status, message.attempts, message.last_error) == (Status.DEAD, 3, "HTTP 503")
    assert services.deliver_due(now=moment + timedelta(days=1)) == {}  # dead stays dead
    assert len(gateway.requests) == 3


def test_the_periodic_job_sends_what_is_due(configured, gateway):
    user = make_user("grid_worker")
    add_phone(user)
    _notify(user)
    OutboxMessage.objects.update(status=Status.FAILED, attempts=1, next_attempt_at=timezone.now() - timedelta(1))
    assert jobs.retry_due(timestamp=0) == {"sent": 1}
    assert len(gateway.requests) == 1


def test_back_off_is_capped():
    channel = channels.SmsChannel("sms", url="http://127.0.0.1:9/", backoff_seconds=60, max_backoff_seconds=300)
    assert [channel.backoff(n) for n in range(1, 7)] == [60, 120, 240, 300, 300, 300]


def test_a_4xx_is_permanent(configured, gateway):
    user = make_user("grid_worker")
    add_phone(user)
    gateway.answer(400)
    _notify(user)
    assert services.deliver_due() == {"dead": 1}
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == (Status.DEAD, 1, "HTTP 400")


def test_429_is_transient_and_a_redirect_is_not_followed(configured, gateway):
    user = make_user("grid_worker")
    add_phone(user)
    gateway.answer(429, (302, {}))
    _notify(user)
    services.deliver_due()
    message = OutboxMessage.objects.get()
    assert (message.status, message.last_error) == (Status.FAILED, "HTTP 429")
    services.deliver_due(now=message.next_attempt_at)
    message.refresh_from_db()
    assert (message.status, message.last_error) == (Status.DEAD, "HTTP 302")


def test_a_gateway_that_is_down_is_transient(settings, gateway, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TEST_SMS_KEY", SMS_KEY)
    settings.OUTBOX_CHANNELS = channel_config(gateway, sms={"url": f"http://127.0.0.1:{port}/sms"})
    user = make_user("grid_worker")
    add_phone(user)
    _notify(user)
    assert services.deliver_due() == {"failed": 1}
    assert OutboxMessage.objects.get().last_error.startswith("connection failed")


def test_a_missing_api_key_is_permanent_and_named(settings, gateway, monkeypatch):
    monkeypatch.delenv("TEST_SMS_KEY", raising=False)
    settings.OUTBOX_CHANNELS = channel_config(gateway)
    user = make_user("grid_worker")
    add_phone(user)
    _notify(user)
    assert services.deliver_due() == {"dead": 1}
    assert OutboxMessage.objects.get().last_error == "the API key variable TEST_SMS_KEY is not set"
    assert gateway.requests == []


def test_an_address_removed_after_queueing_gives_up(configured, gateway):
    user = make_user("grid_worker")
    address = add_phone(user)
    _notify(user)
    services.do_remove_address(address, actor=user)
    assert services.deliver_due() == {"dead": 1}
    assert OutboxMessage.objects.get().last_error == "the recipient has no active address on this channel"
    assert gateway.requests == []


def test_a_channel_removed_from_the_configuration_gives_up(configured, settings, gateway):
    user = make_user("grid_worker")
    add_phone(user)
    _notify(user)
    settings.OUTBOX_CHANNELS = {}
    assert services.deliver_due() == {"dead": 1}
    assert OutboxMessage.objects.get().last_error == "the channel is not configured"


# Personal data -------------------------------------------------------------------------------------------------------

def test_no_phone_number_in_errors_logs_or_storage(configured, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    user = make_user("grid_worker")
    address = add_phone(user)
    # A gateway that echoes the number back in its error body, then refuses it.
    gateway.answer((500, {"error": f"cannot reach {PHONE}"}), (400, {"error": f"{PHONE} is blocked"}))
    _notify(user)
    services.deliver_due()
    message = OutboxMessage.objects.get()
    services.deliver_due(now=message.next_attempt_at)
    message.refresh_from_db()
    assert message.status == Status.DEAD
    assert len(gateway.requests) == 2 and gateway.requests[0]["json"]["to"] == PHONE  # it was sent…
    assert PHONE not in message.last_error and PHONE not in caplog.text  # …and is nowhere else
    assert "outbox message" in caplog.text  # the log did record the attempts
    assert PHONE not in repr(channels.Message(1, "sms", 1, "other", "t", "", address=PHONE))
    stored = OutboundAddress.objects.filter(pk=address.pk).values().get()
    assert PHONE not in json.dumps(stored, default=str)
    assert stored["address_masked"] == "138****5678" and address.address == PHONE
    assert "1234" not in services.scrub("answer: 13812341234 refused") and "[number]" in services.scrub("138 1234 5678")


def test_an_unexpected_error_in_a_channel_keeps_only_its_type(configured, gateway, monkeypatch, caplog):
    def broken(self, message):
        raise ValueError(f"bad {message.address}")

    monkeypatch.setattr(channels.SmsChannel, "send", broken)
    user = make_user("grid_worker")
    add_phone(user)
    _notify(user)
    assert services.deliver_due() == {"failed": 1}
    assert OutboxMessage.objects.get().last_error == "unexpected ValueError"
    assert PHONE not in caplog.text


# Configuration -------------------------------------------------------------------------------------------------------

def test_the_system_check_reports_a_bad_configuration(settings, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    settings.OUTBOX_CHANNELS = {
        "sms": {"class": "wangge.outbox.channels.SmsChannel", "url": "ftp://gateway", "key_env": "NO_SUCH_KEY"},
        "im": {"class": "wangge.outbox.channels.ImWebhookChannel", "url": "http://robot", "format": "xml"},
        "bad": {"class": "wangge.outbox.models.OutboxMessage"},
        "Bad-Name": {"class": "wangge.outbox.channels.CaptureChannel"},
    }
    found = {(error.id, error.msg.split(":")[0]) for error in channels.check_configuration()}
    assert found == {("outbox.W001", "OUTBOX_CHANNELS['sms']"), ("outbox.E002", "OUTBOX_CHANNELS['bad']"),
                     ("outbox.W001", "OUTBOX_CHANNELS['im']"), ("outbox.E001", "OUTBOX_CHANNELS")}
    settings.OUTBOX_CHANNELS = {"capture": {"class": "wangge.outbox.channels.CaptureChannel"}}
    assert channels.check_configuration() == []
