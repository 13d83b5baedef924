import time

import pghistory
from django.core.management.base import BaseCommand, CommandError

from wangge.cases import demo_events


class Command(BaseCommand):
    help = ("Loads a year of deterministic historical events into the demo district (for the dashboard and the KPI "
            "page) with COPY, then rebuilds the KPI rollups. Skips when demo events exist.")

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=demo_events.DEFAULT_COUNT)
        parser.add_argument("--seed", type=int, default=demo_events.DEFAULT_SEED)

    def handle(self, *args, count, seed, **options):
        started = time.monotonic()
        try:
            with pghistory.context(command="load_demo_events"):
                result = demo_events.load(seed=seed, count=count)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if result.get("skipped"):
            self.stdout.write("Demo events: already loaded, skipped.")
            return
        self.stdout.write(f"Demo events: {result['events']} events, {result['timeline']} timeline rows and the KPI "
                          f"rollups in {time.monotonic() - started:.1f} s.")
