"""Workers side by side, with real commits: each message is sent once (SELECT … FOR UPDATE SKIP LOCKED), a message
another worker holds is skipped rather than waited for, and the real worker delivers what a commit queued."""

import threading

import pytest
from django.db import connection, connections, transaction

from wangge.cases.notifications import notify
from wangge.core.testing import make_user
from wangge.outbox import services
from wangge.outbox.models import OutboxMessage

from .conftest import SMS_KEY, add_phone, channel_config

pytestmark = [pytest.mark.transactional, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sms(settings, gateway, monkeypatch):
    monkeypatch.setenv("TEST_SMS_KEY", SMS_KEY)
    settings.OUTBOX_CHANNELS = channel_config(gateway)
    return gateway


def _recipients(count):
    users = [make_user(None) for _ in range(count)]
    for i, user in enumerate(users):
        add_phone(user, f"139{i:08d}")
    return users


def test_two_runs_at_once_send_each_message_once(sms):
    notify(_recipients(12), "other", None, "0103-20250101-00001: warning")
    sms.delay = 0.05  # each send takes a while, so the two runs overlap
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait(10)
            results.append(services.deliver_due())
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(result.get("sent", 0) for result in results) == 12
    ids = [request["json"]["id"] for request in sms.requests]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT, attempts=1).count() == 12


def test_a_message_held_by_another_worker_is_skipped_not_waited_for(sms):
    notify(_recipients(2), "other", None, "title")
    held, other = OutboxMessage.objects.order_by("id")
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(10)
        assert services.deliver_due() == {"sent": 1}
        assert [r["json"]["id"] for r in sms.requests] == [f"wangge-outbox-{other.pk}"]
    finally:
        release.set()
        thread.join(10)
    assert services.deliver_due() == {"sent": 1}  # released: now it goes, once
    assert sorted(r["json"]["id"] for r in sms.requests) == sorted(f"wangge-outbox-{m.pk}" for m in (held, other))


def test_the_worker_delivers_what_a_commit_queued(sms):
    from procrastinate.contrib.django import app

    user = _recipients(1)[0]
    notify([user], "other", None, "title")  # autocommit: on_commit defers the job at once
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'outbox.deliver' AND status = 'todo'")
        assert cursor.fetchone()[0] == 1
    # As `manage.py procrastinate worker` runs it (scripts/serve.sh): on its own psycopg connection.
    with app.replace_connector(app.connector.get_worker_connector()) as worker_app:
        worker_app.run_worker(queues=["outbox"], wait=False, install_signal_handlers=False, listen_notify=False)
    message = OutboxMessage.objects.get()
    assert message.status == OutboxMessage.Status.SENT and len(sms.requests) == 1
