from django.core.management.base import BaseCommand

from wangge.cases import demo_routing


class Command(BaseCommand):
    help = "Loads the demo ownership table (routing rules) and the demo handler's memberships; skips what exists."

    def handle(self, *args, **options):
        added = demo_routing.load()
        self.stdout.write(f"Demo routing: {added['offices']} subdistrict offices, {added['rules']} rules, "
                          f"{added['memberships']} memberships added.")
