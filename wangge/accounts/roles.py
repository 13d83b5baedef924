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
VIEW_PERSON = "registry.view_person"  # persons, households, houses: names and masked numbers
CHANGE_PERSON = "registry.change_person"
VIEW_PLACE = "registry.view_place"  # courtyards, buildings, organizations
CHANGE_PLACE = "registry.change_place"
REVEAL_PII = "registry.reveal_pii"  # full ID and phone numbers, each reveal audited
VIEW_SENSITIVE = "registry.view_sensitive"  # sensitive tags (PIPL Art. 28): special populations, health
MANAGE_CALENDAR = "cases.manage_calendar"  # the work calendar: holidays and make-up working days
VIEW_WORKFORCE = "workforce.view_workforce"  # departments, grid posts, volunteers, rosters
MANAGE_WORKFORCE = "workforce.manage_workforce"  # appoint and end posts, volunteer periods, memberships
VIEW_EVENT = "cases.view_event"  # events (案卷) in one's grid scope, with their timeline
REPORT_EVENT = "cases.report"  # report an event (上报); with a self-handling category, handle and close it oneself
DISPATCH_EVENT = "cases.dispatch"  # accept or void, dispatch, urge (指挥中心)
HANDLE_EVENT = "cases.handle"  # sign for, handle, feed back, return (department handlers, as members of the department)
VERIFY_EVENT = "cases.verify"  # verify or send back for rework, close, evaluate (监督中心)
INSTRUCT_EVENT = "cases.instruct"  # write an instruction (领导批示) on an open event
VIEW_CAMPAIGN = "campaigns.view"  # campaigns, coverage ledgers, daily reports, pushed lists' rows (masked) in scope
MANAGE_CAMPAIGN = "campaigns.manage"  # create, start, re-screen, close and purge campaigns; flag rules; pushed lists
VISIT_HOUSEHOLD = "campaigns.visit"  # record door-to-door visits in one's grids (grid workers, volunteers)
VIEW_ANSWERS = "campaigns.view_answers"  # read a visit's personal answers (health, whereabouts), each reading audited
CLAIM_ROW = "campaigns.claim"  # claim or decline a pushed list's rows for one's grid (认领)

_REGISTRY_READ = [VIEW_PERSON, VIEW_PLACE]
_REGISTRY_WRITE = [VIEW_PERSON, VIEW_PLACE, CHANGE_PERSON, CHANGE_PLACE]

DEFAULT_ROLES = {
    "admin": (gettext_noop("Administrator"),
              [VIEW_AREA, CHANGE_AREA, MANAGE_GENERATIONS, VIEW_HISTORY, MANAGE_USERS, VIEW_AGGREGATES,
               *_REGISTRY_WRITE, REVEAL_PII, VIEW_SENSITIVE, VIEW_WORKFORCE, MANAGE_WORKFORCE, MANAGE_CALENDAR,
               VIEW_EVENT, REPORT_EVENT, DISPATCH_EVENT, HANDLE_EVENT, VERIFY_EVENT, INSTRUCT_EVENT,
               VIEW_CAMPAIGN, MANAGE_CAMPAIGN, VISIT_HOUSEHOLD, VIEW_ANSWERS, CLAIM_ROW]),
    "command": (gettext_noop("Command centre (dispatch)"),
                [VIEW_AREA, VIEW_HISTORY, VIEW_AGGREGATES, *_REGISTRY_READ, VIEW_WORKFORCE, VIEW_EVENT,
                 REPORT_EVENT, DISPATCH_EVENT, VIEW_CAMPAIGN]),
    "supervision": (gettext_noop("Supervision centre"),
                    [VIEW_AREA, VIEW_HISTORY, VIEW_AGGREGATES, *_REGISTRY_READ, VIEW_WORKFORCE, VIEW_EVENT,
                     REPORT_EVENT, VERIFY_EVENT, VIEW_CAMPAIGN]),
    "department": (gettext_noop("Department handler"), [VIEW_AREA, VIEW_PLACE, VIEW_WORKFORCE, HANDLE_EVENT]),
    "subdistrict_staff": (gettext_noop("Subdistrict staff"),
                          [VIEW_AREA, CHANGE_AREA, VIEW_HISTORY, VIEW_AGGREGATES, *_REGISTRY_WRITE, REVEAL_PII,
                           VIEW_SENSITIVE, VIEW_WORKFORCE, MANAGE_WORKFORCE, VIEW_EVENT, REPORT_EVENT,
                           VIEW_CAMPAIGN, MANAGE_CAMPAIGN, VIEW_ANSWERS, CLAIM_ROW]),
    "community_staff": (gettext_noop("Community staff"),
                        [VIEW_AREA, CHANGE_AREA, VIEW_HISTORY, VIEW_AGGREGATES, *_REGISTRY_WRITE, REVEAL_PII,
                         VIEW_SENSITIVE, VIEW_WORKFORCE, MANAGE_WORKFORCE, VIEW_EVENT, REPORT_EVENT,
                         VIEW_CAMPAIGN, VISIT_HOUSEHOLD, VIEW_ANSWERS, CLAIM_ROW]),
    "grid_chief": (gettext_noop("Grid chief"),
                   [VIEW_AREA, VIEW_HISTORY, *_REGISTRY_WRITE, REVEAL_PII, VIEW_WORKFORCE, VIEW_EVENT, REPORT_EVENT,
                    VIEW_CAMPAIGN, VISIT_HOUSEHOLD, VIEW_ANSWERS, CLAIM_ROW]),
    "grid_worker": (gettext_noop("Grid worker"),
                    [VIEW_AREA, *_REGISTRY_WRITE, VIEW_WORKFORCE, VIEW_EVENT, REPORT_EVENT, VIEW_CAMPAIGN,
                     VISIT_HOUSEHOLD, CLAIM_ROW]),
    "leader": (gettext_noop("Leader (aggregates and events)"),
               [VIEW_AREA, VIEW_AGGREGATES, VIEW_EVENT, INSTRUCT_EVENT]),
    "volunteer": (gettext_noop("Volunteer"), [VIEW_AREA, VIEW_CAMPAIGN, VISIT_HOUSEHOLD]),
    "system": (gettext_noop("System (integration)"), [INGEST]),
}


def ensure_default_roles(**kwargs):
    """Creates the default roles, and grants each existing default role the actions a new release added to it.

    `seeded_actions` remembers every action seeding has ever granted a role, so an action an admin removed is not
    granted again on the next migrate."""
    from .models import Role

    for slug, (name, actions) in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(
            slug=slug, defaults={"name": name, "actions": actions, "seeded_actions": actions})
        new = [action for action in actions if action not in role.seeded_actions]
        if not created and new:
            role.actions = [*role.actions, *(a for a in new if a not in role.actions)]
            role.seeded_actions = [*role.seeded_actions, *new]
            role.save(update_fields=["actions", "seeded_actions"])
