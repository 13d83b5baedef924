"""Background jobs of the grid system. A city-sized draft (tens of thousands of grids) validates in tens of
seconds, too long for a request: the API can queue the validation instead."""

import pghistory
from procrastinate.contrib.django import app

from wangge.accounts.models import User

from . import services
from .models import Generation


@app.task(queue="geo", name="geo.validate_generation")
def validate_generation(generation_id: int, actor_id: int):
    actor = User.objects.get(pk=actor_id)
    with pghistory.context(job="geo.validate_generation", user=actor_id):
        report = services.do_validate_generation(Generation.objects.get(pk=generation_id), actor=actor)
    return {"generation": generation_id, "errors": report["error_count"], "warnings": report["warning_count"]}
