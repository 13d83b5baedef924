"""Background jobs of screening campaigns (procrastinate; `make demo` starts the worker, tests call the functions).

Each job is a thin caller of a service: the rules live in services.py (the purge) and reports.py (daily reports).
"""

import pghistory
from procrastinate.contrib.django import app

from . import services


@app.periodic(cron="30 2 * * *", periodic_id="campaigns.purge_due")
@app.task(queue="campaigns", name="campaigns.purge_due")
def purge_due(timestamp: int | None = None):
    """Daily, in the quiet of the night: every closed campaign whose retention period is over loses its personal
    answers (services.purge_due_campaigns); the aggregate counts stay. Returns how many were purged."""
    with pghistory.context(job="campaigns.purge_due"):
        return {"purged": services.purge_due_campaigns()}


# ---- daily-report deadline (hook) ------------------------------------------------------------------------------------
# The job that follows each campaign's daily reporting deadline (missing reports listed and the grid's chain told)
# belongs to wangge/campaigns/reports.py; its owner declares it here, in the same shape as purge_due above:
#
#     @app.periodic(cron=…, periodic_id="campaigns.daily_report_deadline")
#     @app.task(queue="campaigns", name="campaigns.daily_report_deadline")
#     def daily_report_deadline(timestamp: int | None = None): … reports.…
