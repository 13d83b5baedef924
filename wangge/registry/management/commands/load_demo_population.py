import pghistory
from django.core.management.base import BaseCommand

from wangge.registry import demo_population


class Command(BaseCommand):
    help = ("Loads the synthetic demo population (persons, households, places, organizations) into the active demo "
            "district; skips when it is already loaded.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the district's real scale (~720,000 "
                                                                     "persons); 0.01 for a quick look.")
        parser.add_argument("--seed", type=int, default=demo_population.DEFAULT_SEED)
        parser.add_argument("--processes", type=int, default=2, help="worker processes for encryption")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, scale, seed, processes, quiet, **options):
        say = (lambda message: None) if quiet else (lambda message: self.stdout.write(f"  {message}"))
        with pghistory.context(command="load_demo_population"):
            result = demo_population.load(scale=scale, seed=seed, processes=processes, progress=say)
        if quiet:
            return
        if result["skipped"]:
            self.stdout.write("The demo population is already loaded; nothing to do.")
            return
        counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in result["counts"].items())
        self.stdout.write(f"Loaded the demo population in {result['timings']['total_s']:.1f} s: {counts}.")
