import time

import pghistory
from django.core.management.base import BaseCommand, CommandError

from wangge.workforce import demo


class Command(BaseCommand):
    help = ("Loads the demo work team into the active district: departments and the command and supervision centres, "
            "a chief and grid workers in every grid, ~1,000 volunteers. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--volunteers", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=4)

    def handle(self, *args, volunteers, seed, **options):
        started = time.monotonic()
        try:
            with pghistory.context(command="load_demo_workforce"):
                counts = demo.load(seed=seed, volunteers=volunteers)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        added = ", ".join(f"{n} {what}" for what, n in counts.items())
        self.stdout.write(f"Demo work team: added {added} in {time.monotonic() - started:.1f} s.")
