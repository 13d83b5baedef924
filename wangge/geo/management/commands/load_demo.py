import io

import pghistory
from django.core.management.base import BaseCommand
from django.db import transaction

from wangge.accounts.models import AreaAssignment, Role, User
from wangge.geo import demo_district
from wangge.geo.models import Generation

DEMO_PASSWORD = "Wangge-demo-2026"  # noqa: S105 — published demo credentials, printed on purpose

# (username, display name, role, area code): each role scoped to a real area of Shizhong District.
DEMO_USERS = [
    ("admin", "系统管理员", "admin", "370103"),
    ("command", "区指挥中心值班员", "command", "370103"),
    ("supervision", "区监督中心核查员", "supervision", "370103"),
    ("leader", "区领导", "leader", "370103"),
    ("department", "区城管局办理人", "department", "370103"),
    ("daguanyuan", "大观园街道工作人员", "subdistrict_staff", "370103002"),
    ("weiyilu", "纬一路社区工作人员", "community_staff", "370103002001"),
    ("gridchief", "纬一路社区第1网格网格长", "grid_chief", "370103002001001"),
    ("gridworker", "纬一路社区第1网格网格员", "grid_worker", "370103002001001"),
    ("volunteer", "党员突击队员", "volunteer", "370103002001002"),
    # A system account signs in with an API key only (create one in the admin or POST /api/v1/accounts/api-keys/).
    ("hotline12345", "12345热线对接", "system", "370103"),
]


class Command(BaseCommand):
    help = "Loads the demo district (Shizhong District, 370103) and demo users; skips what already exists."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=370103)
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument("--no-population", action="store_true", help="skip the synthetic registry population")

    def handle(self, *args, seed, quiet, no_population=False, **options):
        with pghistory.context(command="load_demo"), transaction.atomic():
            users = {}
            for username, display_name, role_slug, area_code in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={"display_name": display_name, "is_staff": role_slug == "admin",
                              "is_superuser": role_slug == "admin"})
                if created:
                    if role_slug == "system":
                        user.set_unusable_password()
                    else:
                        user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
                AreaAssignment.objects.get_or_create(user=user, area_code=area_code,
                                                     role=Role.objects.get(slug=role_slug))
                users[username] = user
        if not Generation.objects.filter(state=Generation.State.ACTIVE).exists():
            with pghistory.context(command="load_demo", user=users["admin"].pk):
                generation = demo_district.load(actor=users["admin"], seed=seed)
            if not quiet:
                self.stdout.write(f"Loaded the demo district as generation #{generation.pk}: "
                                  f"{generation.areas.count()} areas.")
        if not no_population:  # the registry's synthetic population; skips itself when already loaded
            from django.core.management import call_command

            call_command("load_demo_population", quiet=quiet, stdout=self.stdout)
            # The work team: departments, a chief and workers in every grid, volunteers (skips what exists).
            call_command("load_demo_workforce", stdout=self.stdout if not quiet else io.StringIO())
            # The ownership table that routes events to those departments, and the demo handler's memberships.
            call_command("load_demo_routing", stdout=self.stdout if not quiet else io.StringIO())
            call_command("load_demo_events", stdout=self.stdout if not quiet else io.StringIO())  # a year of cases
            # A running screening campaign in 大观园街道, with a few hundred calls made.
            call_command("load_demo_campaign", stdout=self.stdout if not quiet else io.StringIO())
        if not quiet:
            self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
            for username, display_name, role_slug, area_code in DEMO_USERS:
                self.stdout.write(f"  {username:<12} {role_slug:<18} {area_code:<16} {display_name}")
