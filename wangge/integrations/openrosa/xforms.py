"""What a campaign looks like to ODK Collect: its XForm, its media (the worker's household list) and its entry in the
form list.

A campaign's XForm is its form version's (campaigns/xlsform.py: the uploaded workbook's, or built from the definition)
with the fields of a call added in front, all named wg_*:

    wg_purpose      a note: the campaign's purpose and legal basis, shown to the worker before anything else
    wg_household    the household, picked offline from households.csv (select_one_from_file; the choice value is the
                    registry household id that services.do_record_visit takes)
    wg_status       the result of the call: visited (default), absent, refused, moved out, revisit
    wg_revisit_at   when to come back (shown for revisit)
    wg_location     where the worker stands (optional GPS point)
    wg_end          when the form was finished (the phone's clock)
    wg_answers      a group holding the form's own questions, shown only for a visited household
    meta            instanceID (what makes a resubmission idempotent) and instanceName (the household's number)

formID is `wangge-campaign-<id>` (one entry per campaign, so two campaigns sharing a form never clash on the phone);
version is the form version's number. households.csv has the columns name (household id), label (what the worker
picks from), number, address, grid and status (the household's standing in the current round), so the form can also
show or filter by them.
"""

import copy
import csv
import hashlib
import io
from functools import lru_cache

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wangge.campaigns import xlsform
from wangge.campaigns.models import CampaignState, VisitStatus

FORM_ID_PREFIX = "wangge-campaign-"
HOUSEHOLDS_FILE = "households.csv"
ANSWERS_GROUP = "wg_answers"
CSV_COLUMNS = ["name", "label", "number", "address", "grid", "status"]


def form_id(campaign):
    return f"{FORM_ID_PREFIX}{campaign.pk}"


def campaign_pk(form_id_):
    """The campaign id in a formID, or None."""
    text = str(form_id_ or "")
    if text.startswith(FORM_ID_PREFIX) and text[len(FORM_ID_PREFIX):].isdigit():
        return int(text[len(FORM_ID_PREFIX):])
    return None


def form_version_string(campaign):
    return str(campaign.form_version.number)


def _running_campaigns(user):
    from wangge.accounts.roles import VISIT_HOUSEHOLD
    from wangge.campaigns.services import visible_campaigns

    return (visible_campaigns(user, VISIT_HOUSEHOLD).filter(state=CampaignState.RUNNING)
            .select_related("form_version__form").order_by("-started_at", "-id"))


def worker_campaigns(user):
    """The running campaigns `user` has households to visit in (their formList)."""
    from wangge.campaigns.worklists import worker_areas_of

    campaigns = list(_running_campaigns(user))
    areas = worker_areas_of(campaigns, user)
    return [campaign for campaign in campaigns if areas[campaign.pk]]


def worker_campaign(user, pk):
    """One of `user`'s running campaigns, or None (not found, not theirs, not running: the same answer). Reads that
    one campaign only, not the whole form list."""
    from wangge.campaigns.worklists import worker_areas

    campaign = _running_campaigns(user).filter(pk=pk).first()
    return campaign if campaign is not None and worker_areas(campaign, user) else None


# ---- the XForm -----------------------------------------------------------------------------------------------------

def _plain(text):
    """Campaign text inside a label: `${…}` would be read as a reference to a question."""
    return str(text or "").replace("${", "$ {")


@lru_cache(maxsize=8)
def _version_survey(version_pk):
    from wangge.campaigns.models import FormVersion

    return xlsform.survey_of_version(FormVersion.objects.select_related("form").get(pk=version_pk))


def campaign_survey(campaign):
    """pyxform's JSON survey for the campaign's XForm."""
    both = xlsform.in_both_languages
    survey = xlsform.bilingual(copy.deepcopy(_version_survey(campaign.form_version_id)))
    own = [child for child in survey.get("children") or []
           if not (child.get("name") == "meta" and child.get("type") == "group")]
    statuses = [{"name": value, "label": both(VisitStatus(value).label)} for value in VisitStatus.values]
    purpose = both(lambda language: _("Purpose: %(purpose)s\nLegal basis: %(basis)s") % {
        "purpose": _plain(campaign.purpose), "basis": _plain(campaign.legal_basis)})
    survey["children"] = [
        {"type": "note", "name": "wg_purpose", "label": purpose},
        {"type": "select one", "name": "wg_household", "itemset": HOUSEHOLDS_FILE, "parameters": {},
         "label": both(gettext_lazy("Household")),
         "hint": both(gettext_lazy("Type part of the number or address to find it.")),
         "control": {"appearance": "autocomplete"}, "bind": {"required": "yes"}},
        {"type": "select one", "name": "wg_status", "itemset": "wg_status", "list_name": "wg_status",
         "choices": statuses, "parameters": {}, "default": VisitStatus.VISITED,
         "label": both(gettext_lazy("Result of the call")), "bind": {"required": "yes"}},
        {"type": "dateTime", "name": "wg_revisit_at", "label": both(gettext_lazy("Come back at")),
         "bind": {"relevant": f"${{wg_status}} = '{VisitStatus.REVISIT}'"}},
        {"type": "geopoint", "name": "wg_location", "label": both(gettext_lazy("Where you are (optional)"))},
        {"type": "end", "name": "wg_end"},
        {"type": "group", "name": ANSWERS_GROUP, "bind": {"relevant": f"${{wg_status}} = '{VisitStatus.VISITED}'"},
         "children": own},
        {"name": "meta", "type": "group", "control": {"bodyless": True}, "children": [
            {"name": "instanceID", "type": "calculate", "bind": {"readonly": "true()", "jr:preload": "uid"}},
            {"name": "instanceName", "type": "calculate",
             "bind": {"calculate": "instance('households')/root/item[name = ${wg_household}]/number"}},
        ]},
    ]
    survey.setdefault("choices", {})["wg_status"] = statuses
    survey.update(name="data", id_string=form_id(campaign), version=form_version_string(campaign),
                  title=campaign.name, default_language=xlsform.LANG_ZH)
    return survey


@lru_cache(maxsize=64)
def _campaign_xform(pk, version_pk, name, purpose, legal_basis):
    from wangge.campaigns.models import Campaign

    campaign = Campaign.objects.select_related("form_version__form").get(pk=pk)
    campaign.name, campaign.purpose, campaign.legal_basis = name, purpose, legal_basis
    xml = xlsform.xform_from_survey(campaign_survey(campaign))
    return xml, md5(xml.encode())


def campaign_xform(campaign):
    """(XForm XML, its md5) — built once per process for what it depends on (form versions never change)."""
    return _campaign_xform(campaign.pk, campaign.form_version_id, campaign.name, campaign.purpose,
                           campaign.legal_basis)


# ---- the household list ------------------------------------------------------------------------------------------

def _standing_label(status):
    if status in VisitStatus.values:
        return str(VisitStatus(status).label)
    return _("not visited yet")


def households_csv(campaign, user):
    """The worker's households as households.csv (bytes, UTF-8): addresses and standings, no person's data."""
    from wangge.campaigns.worklists import worker_households

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in worker_households(campaign, user):
        place = " ".join(part for part in (row["address"] or row["building_name"],
                                           "-".join(str(p) for p in (row["unit"], row["room"]) if p)) if part)
        status = _standing_label(row["status"])
        label = " · ".join(part for part in (row["number"], place, status) if part)
        writer.writerow([row["id"], label, row["number"], place, row["grid_code"], row["status"]])
    return out.getvalue().encode("utf-8")


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
