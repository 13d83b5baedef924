from pathlib import Path

import pghistory
from django.core.management.base import BaseCommand, CommandError

from wangge.accounts.models import User
from wangge.cases import services
from wangge.core.errors import DomainError


class Command(BaseCommand):
    help = ("Replaces one year's work calendar with a CSV file (header date,kind,name; kind is holiday or "
            "makeup_workday), transcribed from the State Council General Office's notice for that year.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--year", type=int, help="the year the file is for (default: the year of its dates)")
        parser.add_argument("--user", required=True, help="username of the administrator loading it")

    def handle(self, *args, **options):
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['user']!r}.")
        try:
            rows = services.rows_from_csv(Path(options["file"]).read_bytes())
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        year = options["year"]
        if year is None:
            years = {str(row.get("date", ""))[:4] for row in rows}
            if len(years) != 1 or not next(iter(years)).isdigit():
                raise CommandError("Give --year: the file's dates do not name one year.")
            year = int(years.pop())
        try:
            with pghistory.context(command="load_calendar", user=actor.pk):
                days = services.do_replace_year(year, rows, actor=actor)
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        holidays = sum(day.kind == "holiday" for day in days)
        self.stdout.write(f"{year}: {holidays} holidays, {len(days) - holidays} make-up working days loaded.")
