"""Background jobs of the closed loop (procrastinate; `make demo` starts the worker)."""

import pghistory
from procrastinate.contrib.django import app

from . import clocks


@app.periodic(cron="*/5 * * * *", periodic_id="cases.evaluate_clocks")
@app.task(queue="cases", name="cases.evaluate_clocks")
def evaluate_clocks(timestamp: int | None = None):
    """Every five minutes: raise clock levels, write timeline rows, notify up the chain."""
    with pghistory.context(job="cases.evaluate_clocks"):
        counts = clocks.evaluate_clocks()
    return {str(level): count for level, count in counts.items()}
