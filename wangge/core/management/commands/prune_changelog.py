"""Deletes change-log entries older than N days. Network and audit logs must be kept at least six months
(Cybersecurity Law Art 21, MLPS level 3), so anything under 183 days is refused."""

from datetime import timedelta

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from pghistory.models import Context, Event

MINIMUM_DAYS = 183
DEFAULT_DAYS = 200


class Command(BaseCommand):
    help = "Delete change-log entries (and their request contexts) older than --older-than-days (≥ 183)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=DEFAULT_DAYS,
                            help=f"Keep this many days (default {DEFAULT_DAYS}, at least {MINIMUM_DAYS}).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")

    def handle(self, *args, older_than_days, dry_run, **options):
        if older_than_days < MINIMUM_DAYS:
            raise CommandError(f"Logs are kept at least six months: --older-than-days must be ≥ {MINIMUM_DAYS}.")
        cutoff = timezone.now() - timedelta(days=older_than_days)
        event_models = [m for m in apps.get_models() if issubclass(m, Event) and not m._meta.abstract]
        total = 0
        with transaction.atomic():
            for model in sorted(event_models, key=lambda m: m._meta.label):
                old = model.objects.filter(pgh_created_at__lt=cutoff)
                count = old.count() if dry_run else old.delete()[0]
                if count:
                    self.stdout.write(f"{model._meta.label}: {count}")
                total += count
            # A context last used before the cutoff belongs only to events that are gone now.
            contexts = Context.objects.filter(updated_at__lt=cutoff)
            context_count = contexts.count() if dry_run else contexts.delete()[0]
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {total} change-log entries and {context_count} request contexts "
                          f"older than {cutoff:%Y-%m-%d %H:%M}.")
