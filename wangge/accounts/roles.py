"""The default roles of ARCHITECTURE.md, as data. Seeded after every migrate; existing rows keep admins' edits."""

from django.utils.translation import gettext_noop

# Actions used so far. Apps add theirs here as they land.
VIEW_AREA = "geo.view_area"
CHANGE_AREA = "geo.change_area"
MANAGE_GENERATIONS = "geo.manage_generation"
VIEW_HISTORY = "core.view_history"
MANAGE_USERS = "accounts.manage_users"
VIEW_AGGREGATES = "kpi.view_aggregate"
INGEST = "integrations.ingest"

DEFAULT_ROLES = {
    "admin": (gettext_noop("Administrator"),
              [VIEW_AREA, CHANGE_AREA, MANAGE_GENERATIONS, VIEW_HISTORY, MANAGE_USERS, VIEW_AGGREGATES]),
    "command": (gettext_noop("Command centre (dispatch)"), [VIEW_AREA, VIEW_HISTORY, VIEW_AGGREGATES]),
    "supervision": (gettext_noop("Supervision centre"), [VIEW_AREA, VIEW_HISTORY, VIEW_AGGREGATES]),
    "department": (gettext_noop("Department handler"), [VIEW_AREA]),
    "subdistrict_staff": (gettext_noop("Subdistrict staff"), [VIEW_AREA, CHANGE_AREA, VIEW_HISTORY, VIEW_AGGREGATES]),
    "community_staff": (gettext_noop("Community staff"), [VIEW_AREA, CHANGE_AREA, VIEW_HISTORY, VIEW_AGGREGATES]),
    "grid_chief": (gettext_noop("Grid chief"), [VIEW_AREA, VIEW_HISTORY]),
    "grid_worker": (gettext_noop("Grid worker"), [VIEW_AREA]),
    "leader": (gettext_noop("Leader (aggregates only)"), [VIEW_AREA, VIEW_AGGREGATES]),
    "volunteer": (gettext_noop("Volunteer"), [VIEW_AREA]),
    "system": (gettext_noop("System (integration)"), [INGEST]),
}


def ensure_default_roles(**kwargs):
    from .models import Role

    for slug, (name, actions) in DEFAULT_ROLES.items():
        Role.objects.get_or_create(slug=slug, defaults={"name": name, "actions": actions})
