"""A submitted form instance → a visit (Form Submission API).

The instance XML is parsed with defusedxml (no DTD, no entities, no external references; nothing is fetched) after a
size check, namespaces ignored (ODK Collect sends none, Enketo may). Which campaign: the root's `id` (formID
wangge-campaign-<id>), checked against the version it was filled under. The call's own fields (wg_*, xforms.py) give
the household, result, revisit time, place and time; the form's answers are read by the definition's field names —
at any depth of layout groups (an uploaded workbook's groups, wg_answers), each repeat element one entry — and
everything else (notes, calculations, meta) is left aside. Then services.do_record_visit(…, instance_id=meta/
instanceID, source="openrosa") checks and writes it like any other visit.
"""

from datetime import timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from wangge.campaigns.models import VisitStatus

from .xforms import campaign_pk

MAX_XML_BYTES = 1024 * 1024  # a household's answers are a few kilobytes


class SubmissionError(Exception):
    """A submission refused before anything is written: status and the message the worker sees."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message, self.status = str(message), status


def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def read_instance(uploaded):
    """The root element of an uploaded xml_submission_file."""
    import defusedxml.ElementTree as SafeElementTree
    from defusedxml import DefusedXmlException

    if uploaded is None:
        raise SubmissionError(_("The submission has no xml_submission_file part."))
    if uploaded.size > MAX_XML_BYTES:
        raise SubmissionError(_("The form instance is larger than %(kb)s kB.") % {"kb": MAX_XML_BYTES // 1024},
                              status=413)
    data = uploaded.read(MAX_XML_BYTES + 1)
    try:
        return SafeElementTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SubmissionError(_("The form instance may not declare a DTD or entities.")) from exc
    except (SyntaxError, ValueError) as exc:  # ParseError is a SyntaxError
        raise SubmissionError(_("The form instance is not well-formed XML.")) from exc


def _children(element):
    return [child for child in element if isinstance(child.tag, str)]


def _text(element):
    return (element.text or "").strip() if element is not None else ""


def _find(element, name):
    """The first descendant named `name` (a call field at the top, or meta's)."""
    for child in element.iter():
        if _local(child.tag) == name:
            return child
    return None


def _value(field, element):
    text = _text(element)
    if field["type"] == "yes_no" and text == "OK":  # an acknowledge question, as ODK sends it
        return "yes"
    return text


def _level(fields, element):
    """The answers of one level: each field's element found below `element`, through groups that are not
    fields (layout groups), but not into repeats or meta."""
    by_name = {field["name"]: field for field in fields}
    answers = {}

    def walk(node):
        for child in _children(node):
            name = _local(child.tag)
            field = by_name.get(name)
            if field is None:
                if name != "meta" and _children(child):
                    walk(child)
                continue
            if field["type"] == "repeat":
                answers.setdefault(name, []).append(_level(field["children"], child))
            else:
                value = _value(field, child)
                if value:
                    answers[name] = value

    walk(element)
    return answers


def answers_of(definition, root):
    """The answers in an instance, as forms.validate_answers takes them (blank ones left out)."""
    return _level(definition["fields"], root)


def _moment(text, field):
    if not text:
        return None
    moment = parse_datetime(text)
    if moment is None:
        raise SubmissionError(_("%(field)s: not a date and time.") % {"field": field})
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _location(text):
    """A geopoint (latitude longitude [altitude accuracy]) as GeoJSON; None when blank."""
    if not text:
        return None
    parts = text.split()
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
    except (IndexError, ValueError) as exc:
        raise SubmissionError(_("wg_location: not a point (latitude longitude).")) from exc
    return {"type": "Point", "coordinates": [longitude, latitude]}


def call_of(root):
    """The call's own fields: form id, version, instance id, household, result, revisit, place, time."""
    pk = campaign_pk(root.get("id"))
    if pk is None:
        raise SubmissionError(_("This form is not one of this server's campaigns."), status=404)
    status = _text(_find(root, "wg_status")) or VisitStatus.VISITED
    if status not in VisitStatus.values:
        raise SubmissionError(_("wg_status: unknown result %(status)r.") % {"status": status[:20]})
    finished = _moment(_text(_find(root, "wg_end")), "wg_end")
    # The phone's clock decides the time of the call only when it is not ahead of ours (a wrong clock would make
    # the visit "lie in the future" and the submission fail for ever).
    if finished is not None and finished > timezone.now() + timedelta(minutes=5):
        finished = None
    return {
        "campaign": pk,
        "version": root.get("version") or "",
        "instance_id": _text(_find(root, "instanceID"))[:100],
        "household": _text(_find(root, "wg_household")),
        "status": status,
        "revisit_at": _moment(_text(_find(root, "wg_revisit_at")), "wg_revisit_at")
        if status == VisitStatus.REVISIT else None,
        "location": _location(_text(_find(root, "wg_location"))),
        "visited_at": finished,
    }
