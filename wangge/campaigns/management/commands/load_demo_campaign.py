from django.core.management.base import BaseCommand

from wangge.campaigns import demo


class Command(BaseCommand):
    help = "Loads the demo screening campaign (大观园街道) with a few hundred calls; skips it when it exists."

    def add_arguments(self, parser):
        parser.add_argument("--calls", type=int, default=300)

    def handle(self, *args, calls, **options):
        campaign = demo.load(calls=calls)
        self.stdout.write(f"Demo campaign: {campaign.name} (#{campaign.pk})." if campaign else
                          "Demo campaign: already there, or the demo population is missing; nothing done.")
