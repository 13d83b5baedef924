"""Background delivery of the outbox (procrastinate; scripts/serve.sh starts the worker beside the web server).

`outbox.deliver` is deferred when a transaction that queued messages commits (one waiting job at most: its queueing
lock); `outbox.retry_due` runs every minute and sends whatever is due — retries after their back-off, and anything a
lost defer left behind."""

import pghistory
from procrastinate.contrib.django import app

from . import services


@app.task(queue="outbox", name="outbox.deliver", queueing_lock="outbox.deliver")
def deliver():
    with pghistory.context(job="outbox.deliver"):
        return services.deliver_due()


@app.periodic(cron="* * * * *", periodic_id="outbox.retry_due")
@app.task(queue="outbox", name="outbox.retry_due")
def retry_due(timestamp: int | None = None):
    with pghistory.context(job="outbox.retry_due"):
        return services.deliver_due()
