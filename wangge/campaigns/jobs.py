"""Background jobs of screening campaigns (procrastinate; `make demo` starts the worker, tests call the functions).

Each job is a thin caller of a service: the rules live in services.py (the purge) and reports.py (daily reports).
"""

import pghistory
from procrastinate.contrib.django import app

from . import reports, services


@app.periodic(cron="30 2 * * *", periodic_id="campaigns.purge_due")
@app.task(queue="campaigns", name="campaigns.purge_due")
def purge_due(timestamp: int | None = None):
    """Daily, in the quiet of the night: every closed campaign whose retention period is over loses its personal
    answers (services.purge_due_campaigns); the aggregate counts stay. Returns how many were purged."""
    with pghistory.context(job="campaigns.purge_due"):
        return {"purged": services.purge_due_campaigns()}


# ---- daily-report deadline ----------------------------------------------------------------------------------------

@app.periodic(cron="*/10 * * * *", periodic_id="campaigns.daily_report_deadline")
@app.task(queue="campaigns", name="campaigns.daily_report_deadline")
def daily_report_deadline(timestamp: int | None = None):
    """Every ten minutes (campaigns set their own deadlines): for each running campaign whose latest daily deadline
    has passed since the last reminder, the grid chief and community staff of every grid still missing that day's
    report are told, once per campaign and day (reports.notify_missing_reports). Returns {campaign id: grids}."""
    with pghistory.context(job="campaigns.daily_report_deadline"):
        return {str(pk): grids for pk, grids in reports.notify_missing_reports().items()}


# ---- pushed lists -------------------------------------------------------------------------------------------------

@app.periodic(cron="0 9 * * *", periodic_id="campaigns.report_pushed_lists")
@app.task(queue="campaigns", name="campaigns.report_pushed_lists")
def report_pushed_lists(timestamp: int | None = None):
    """Daily at 09:00, once the night's visits are in: the rows of pushed lists past their deadline and still
    unanswered go up each grid's chain, and the rows waiting at a list's area (unmatched, or sent back) to its staff
    (lists.report_overdue_and_unmatched). A daily reminder while rows remain. Returns the counts."""
    from . import lists

    with pghistory.context(job="campaigns.report_pushed_lists"):
        return lists.report_overdue_and_unmatched()
