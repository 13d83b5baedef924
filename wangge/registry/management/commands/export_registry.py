from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from wangge.accounts.models import User
from wangge.core.errors import DomainError
from wangge.registry.exporters import EXPORT_KINDS, export


class Command(BaseCommand):
    help = "Exports persons, households, buildings or organizations to .xlsx or .csv (by OUT's suffix), masked."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(EXPORT_KINDS))
        parser.add_argument("out", help="file to write: .xlsx or .csv")
        parser.add_argument("--area", help="an area code (6–15 digits): rows under it")
        parser.add_argument("--name", help="names starting with this")
        parser.add_argument("--user", required=True, help="username whose scope applies")

    def handle(self, *args, **options):
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['user']!r}.")
        out = Path(options["out"])
        fmt = out.suffix.lstrip(".").lower()
        try:
            content, count = export(options["kind"], actor, fmt, area=options["area"], name=options["name"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        out.write_bytes(content)
        self.stdout.write(f"{count:,} {options['kind']} written to {out}.")
