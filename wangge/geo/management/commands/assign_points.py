"""manage.py assign_points IN.csv|IN.json [--crs gcj02] [--format csv|json] [-o OUT]

Assigns every point of the file to a grid of the current generation (wangge.geo.batch). Bad rows are listed on
stderr and left out; unmatched points keep empty grid columns. The command line sees every grid (no user scope).
"""

import io
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from wangge.core.errors import DomainError
from wangge.geo import batch
from wangge.geo.crs import CRS_CHOICES

# Row errors printed before the rest are only counted: a file with a million bad rows should not flood the terminal.
_SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = ("Assign points (CSV with header id,lon,lat, or JSON [{id, lon, lat}]) to the grids of the current "
            "generation.")

    def add_arguments(self, parser):
        parser.add_argument("input", help="A .csv or .json file, or - for stdin.")
        parser.add_argument("--crs", choices=CRS_CHOICES, default=None,
                            help="Coordinate system of the input (default wgs84, or the one a JSON envelope names).")
        parser.add_argument("--format", choices=batch.FORMATS, default=None,
                            help="Output format (default: from the -o extension, else csv).")
        parser.add_argument("-o", "--output", default=None, help="Output file (default: stdout).")

    def handle(self, *args, input, crs, format, output, **options):
        try:
            data = sys.stdin.buffer.read() if input == "-" else Path(input).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {input}: {exc.strerror}") from exc
        output_format = format or ("json" if output and output.lower().endswith(".json") else "csv")
        try:
            points = batch.parse(data, kind=batch.detect_format(data, input), source="file")
            result = batch.assign_points(points, crs=crs)
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'input'}: {exc.message}") from exc
        if result.generation_id is None:
            raise CommandError("There is no active generation to assign points to.")

        stream = open(output, "w", encoding="utf-8", newline="") if output else io.StringIO()
        try:
            if output_format == "json":
                json.dump(result.as_json(), stream, ensure_ascii=False)
                stream.write("\n")
            else:
                result.write_csv(stream)
            if not output:
                self.stdout.write(stream.getvalue(), ending="")
        finally:
            stream.close()

        for error in points.errors[:_SHOWN_ERRORS]:
            self.stderr.write(f"row {error['row']} ({error['field']}): {error['message']}")
        if len(points.errors) > _SHOWN_ERRORS:
            self.stderr.write(f"… and {len(points.errors) - _SHOWN_ERRORS} more bad rows.")
        summary = result.summary()
        self.stderr.write(
            f"{summary['count']} points: {summary['matched']} matched, {summary['unmatched_count']} unmatched, "
            f"{summary['error_count']} bad rows (generation #{summary['generation']}, crs {summary['crs']}).")
