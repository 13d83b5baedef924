from django.core.management.base import BaseCommand, CommandError

from wangge.accounts.models import User
from wangge.core.errors import DomainError
from wangge.geo.exporters import FORMATS, ExportFailed, export_areas
from wangge.geo.importers import ALL_LEVELS, LEVEL_CHOICES
from wangge.geo.models import Generation


class Command(BaseCommand):
    help = "Exports the areas of a generation (one level or all) as GeoJSON or GeoPackage."

    def add_arguments(self, parser):
        parser.add_argument("output", help="the file to write")
        parser.add_argument("--generation", default="active", help="a generation id, or 'active' (default)")
        parser.add_argument("--level", choices=LEVEL_CHOICES, default=ALL_LEVELS)
        parser.add_argument("--format", choices=list(FORMATS),
                            help="default: from the output's suffix (.gpkg → gpkg, otherwise geojson)")
        parser.add_argument("--user", help="export only what this user may view (default: everything)")

    def handle(self, *args, output, generation, level, user, **options):
        if generation == "active":
            found = Generation.objects.filter(state=Generation.State.ACTIVE).first()
        else:
            found = Generation.objects.filter(pk=int(generation)).first() if generation.isdigit() else None
        if found is None:
            raise CommandError(f"No generation {generation!r}.")
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user {user!r}.")
        fmt = options["format"] or ("gpkg" if output.lower().endswith(".gpkg") else "geojson")
        try:
            count = export_areas(found, output, user=actor, level=level, fmt=fmt)
        except (DomainError, ExportFailed, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Wrote {count} areas of generation #{found.pk} to {output} ({fmt})."))
