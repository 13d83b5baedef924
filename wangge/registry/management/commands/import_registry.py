import json
import sys

import pghistory
from django.core.management.base import BaseCommand, CommandError

from wangge.accounts.models import User
from wangge.core.errors import DomainError
from wangge.registry.import_service import ImportRejected, do_import_registry
from wangge.registry.importers import KINDS


class Command(BaseCommand):
    help = ("Imports a registry file (.xlsx, or CSV in UTF-8/GBK, with the template's Chinese headers). A dry run "
            "unless --commit (all rows clean) or --commit-clean-rows is given; one transaction per file.")

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file")
        parser.add_argument("--user", required=True, help="username of the person importing (their scope applies)")
        parser.add_argument("--commit", action="store_true", help="write, if every row is clean")
        parser.add_argument("--commit-clean-rows", action="store_true", help="write the clean rows only")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--errors", help="write the per-row error report to this .xlsx or .csv file")

    def handle(self, *args, **options):
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['user']!r}.")

        def progress(done, total, phase):
            sys.stderr.write(f"\r{phase}: {done:,} rows" + (f" of {total:,}" if total else "") + " " * 10)
            sys.stderr.flush()

        try:
            with pghistory.context(command="import_registry", user=actor.pk):
                report = do_import_registry(options["kind"], options["file"], actor=actor, commit=options["commit"],
                                            commit_clean_rows=options["commit_clean_rows"], progress=progress)
        except ImportRejected as exc:
            sys.stderr.write("\n")
            self._print(exc.report, options)
            raise CommandError(exc.message) from exc
        except DomainError as exc:
            sys.stderr.write("\n")
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc.message}") from exc
        sys.stderr.write("\n")
        self._print(report, options)

    def _print(self, report, options):
        if options["errors"]:
            from wangge.registry.exporters import error_report

            fmt = "csv" if options["errors"].endswith(".csv") else "xlsx"
            with open(options["errors"], "wb") as out:
                out.write(error_report(report, fmt))
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{report['rows']:,} rows ({report['format']} {report['encoding']}), "
                          f"{report['rows_with_problems']:,} with problems; create {report['create']:,}, "
                          f"update {report['update']:,}, unchanged {report['unchanged']:,}; "
                          f"{'written' if report['committed'] else 'nothing written'}.")
        for problem in report["problems"][:50]:
            self.stdout.write(f"  row {problem['row']} {problem['column']}: {problem['reason']} ({problem['value']})")
        if report["problem_count"] > 50:
            self.stdout.write(f"  … {report['problem_count'] - 50:,} more (use --errors FILE or --json)")
