"""Reading the change log (written by pghistory's triggers) for one object."""

from pghistory.models import Events

LONG_VALUE = 300  # geometries and other long values are summarised, not dumped into the log view


def _short(value):
    text = value if isinstance(value, str) else None
    if text is not None and len(text) > LONG_VALUE:
        return f"({len(text)} characters)"
    return value


def history_of(obj, limit=500):
    """Every recorded change of `obj`, oldest first: what changed (before → after), when, by whom, in which request."""
    events = Events.objects.tracks(obj).order_by("pgh_created_at")[:limit]
    rows = []
    for event in events:
        context = event.pgh_context or {}
        diff = event.pgh_diff or {}
        rows.append({
            "at": event.pgh_created_at.isoformat(),
            "label": event.pgh_label,
            "changes": {field: [_short(before), _short(after)] for field, (before, after) in diff.items()},
            "user": context.get("user"),
            "request_id": context.get("request_id"),
            "url": context.get("url"),
            "command": context.get("command"),
        })
    return rows
