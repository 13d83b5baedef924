import time

from django.core.management.base import BaseCommand, CommandError

from wangge.kpi import rollups


class Command(BaseCommand):
    help = ("Recomputes the KPI rollups and their per-event flags from the raw events, set-based, in one transaction "
            "(writers to the events wait). --check compares instead and changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="report the keys whose incremental counters differ from a rebuild; exit 1 if any")

    def handle(self, *args, check=False, **options):
        started = time.perf_counter()
        if check:
            differences = rollups.differences()
            for line in differences[:50]:
                self.stdout.write(line)
            if differences:
                raise CommandError(f"{len(differences)} rollup rows or flags differ from a rebuild")
            self.stdout.write(f"The rollups match a rebuild ({time.perf_counter() - started:.1f} s).")
            return
        rollups.rebuild()
        self.stdout.write(f"Rebuilt the KPI rollups: {rollups.row_count()} rows in "
                          f"{time.perf_counter() - started:.1f} s.")
