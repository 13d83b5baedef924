import json

import pghistory
from django.core.management.base import BaseCommand, CommandError

from wangge.accounts.models import User
from wangge.core.errors import DomainError
from wangge.geo.crs import CRS_CHOICES
from wangge.geo.import_service import ImportRejected, do_import_areas
from wangge.geo.importers import ALL_LEVELS, LEVEL_CHOICES, FieldMapping
from wangge.geo.models import Generation

MAPPING_OPTIONS = {"parent": "--parent-field", "kind": "--kind-field", "dedicated_to": "--dedicated-to-field",
                   "household_target": "--household-target-field", "population_target": "--population-target-field"}


class Command(BaseCommand):
    help = ("Imports areas from a GeoJSON, GeoPackage or Shapefile (or a .zip holding one) into a draft generation. "
            "A dry run unless --commit is given; nothing is written when any feature has a problem.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import")
        parser.add_argument("--generation", type=int, required=True, help="id of the draft generation")
        parser.add_argument("--user", required=True, help="username of the person importing (their scope applies)")
        parser.add_argument("--level", choices=LEVEL_CHOICES, default=ALL_LEVELS,
                            help="level of every feature; 'all' (default) takes each one's from its code")
        parser.add_argument("--code-field", default="code", help="attribute holding the code (default: code)")
        parser.add_argument("--name-field", default="name", help="attribute holding the name (default: name)")
        for key, option in MAPPING_OPTIONS.items():
            parser.add_argument(option, dest=f"{key}_field", help=f"attribute holding the {key.replace('_', ' ')}")
        parser.add_argument("--layer", help="layer of a GeoPackage, or Shapefile in a zip holding several")
        parser.add_argument("--crs", choices=CRS_CHOICES, default="wgs84", help="coordinates' system (default wgs84)")
        parser.add_argument("--commit", action="store_true", help="write (default: a dry run)")
        parser.add_argument("--repair", action="store_true", help="make invalid geometries valid, reporting each")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['user']!r}.")
        generation = Generation.objects.filter(pk=options["generation"]).first()
        if generation is None:
            raise CommandError(f"No generation #{options['generation']}.")
        mapping = FieldMapping(code=options["code_field"], name=options["name_field"],
                               **{key: options[f"{key}_field"] for key in MAPPING_OPTIONS})
        try:
            with pghistory.context(command="import_areas", user=actor.pk):
                report = do_import_areas(generation, options["file"], actor=actor, mapping=mapping,
                                         level=options["level"], crs=options["crs"], commit=options["commit"],
                                         repair=options["repair"], layer=options["layer"])
        except ImportRejected as exc:
            self._print(exc.report, options)
            raise CommandError(exc.message) from exc
        except DomainError as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{where}{exc.message}") from exc
        self._print(report, options)

    def _print(self, report, options):
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{report['driver']} layer {report['layer']!r}, {report['srs'] or 'no declared SRS'}, "
                          f"coordinates read as {report['crs']}: {report['features']} features.")
        for repair in report["repairs"]:
            self.stdout.write(f"  repaired feature {repair['index']} ({repair['code']}): {repair['reason']}")
        for problem in report["problems"]:
            self.stderr.write(f"  feature {problem['index']} ({problem['code'] or 'no code'}) "
                              f"{problem['field']}: {problem['reason']}")
        if report["problem_count"] > len(report["problems"]):
            self.stderr.write(f"  … and {report['problem_count'] - len(report['problems'])} more problems.")
        if report["problem_count"]:
            return
        verb = "Created" if report["committed"] else "Dry run: would create"
        self.stdout.write(self.style.SUCCESS(f"{verb} {report['create']} and "
                                             f"{'updated' if report['committed'] else 'update'} {report['update']} "
                                             f"areas in generation #{report['generation']}."))
        if not report["committed"]:
            self.stdout.write("Nothing was written; run again with --commit to write.")
