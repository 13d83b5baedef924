"""Forms as data (issue 5 §2): the shape of a form version's definition, its checks, and the validation of answers
against it — types, required fields, choices, constraints, skip logic (XLSForm `relevant`) and repeat groups.

A definition is {"fields": [field, …]}; a field is
    {"name": "fever",                       # an XML name: letters, digits, _ (the XForm and OpenRosa use it)
     "type": "yes_no",                      # text integer decimal date select_one select_multiple yes_no geopoint
                                            # photo, or repeat (with "children": one instance per household member)
     "label": {"zh": "是否发热", "en": "Fever"}, "hint": {…},
     "required": true,
     "choices": [{"value": "home", "label": {"zh": "居家", "en": "At home"}}, …],    # select types
     "constraint": {"min": 0, "max": 120, "min_length": 1, "max_length": 50, "pattern": "…",
                    "id_number": true, "phone": true, "message": {"zh": …, "en": …}},
     "relevant": "${returned} = 'yes'",     # skip logic, the XLSForm syntax (a safe subset, below)
     "role": "name" | "id_number" | "phone",  # how a member is matched to the registry
     "stat": "arrival",                     # counted for the statistics tables when the answer is truthy
     "stat_choices": {"home": "isolation_home"},  # or per chosen value
     "sensitive": true}                     # health or whereabouts (PIPL Art. 28): never shown masked-free
Answers are {"name": value, …, "members": [{…}, …]} for a repeat named members.

Skip-logic expressions: ${field} references (inside a repeat, a sibling first, then a top-level field), 'strings',
numbers, = != < <= > >=, and, or, not(…), selected(${field}, 'value'), count-selected(${field}), string-length(…),
parentheses. Anything else is refused when the form is saved, not when a worker fills it in.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from wangge.core.errors import DomainError

TYPES = ("text", "integer", "decimal", "date", "select_one", "select_multiple", "yes_no", "geopoint", "photo",
         "repeat")
SELECT_TYPES = ("select_one", "select_multiple")
ROLES = ("name", "id_number", "phone")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_REPEAT = 50  # household members per visit
MAX_TEXT = 2000


class FormError(DomainError):
    """A definition that cannot be used, naming the field path and the reason."""


class AnswerErrors(DomainError):
    """Answers that break the form: every problem, each with its field path."""

    def __init__(self, problems):
        self.problems = problems
        first_path, first_message = problems[0]
        super().__init__(first_message, field=first_path)
        self.fields = {path: [message] for path, message in problems}


# ---- expressions ---------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>\$\{[A-Za-z_][A-Za-z0-9_]*\})
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<=|>=|=|<|>|\(|\)|,)
  | (?P<word>[a-z][a-z-]*)
)""", re.VERBOSE)
FUNCTIONS = {"not": 1, "selected": 2, "count-selected": 1, "string-length": 1}


def _tokens(text):
    position, result = 0, []
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(_("cannot read the expression at %(where)r") % {"where": text[position:position + 15]})
        kind = match.lastgroup
        result.append((kind, match.group(kind)))
        position = match.end()
    return result


class _Parser:
    """Recursive descent over the lexeme list into nested tuples: ("or", a, b), ("cmp", op, a, b), ("call", f, args),
    ("ref", name), ("lit", value)."""

    def __init__(self, text):
        self.tokens, self.i = _tokens(text), 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, value=None):
        kind, lexeme = self.peek()
        if lexeme is None or (value is not None and lexeme != value):
            raise ValueError(_("expected %(what)s") % {"what": value or _("more")})
        self.i += 1
        return kind, lexeme

    def parse(self):
        tree = self.disjunction()
        if self.i != len(self.tokens):
            raise ValueError(_("unexpected %(lexeme)r") % {"lexeme": self.peek()[1]})
        return tree

    def disjunction(self):
        tree = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take()
            tree = ("or", tree, self.conjunction())
        return tree

    def conjunction(self):
        tree = self.comparison()
        while self.peek() == ("word", "and"):
            self.take()
            tree = ("and", tree, self.comparison())
        return tree

    def comparison(self):
        left = self.operand()
        kind, lexeme = self.peek()
        if kind == "op" and lexeme in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", lexeme, left, self.operand())
        return left

    def operand(self):
        kind, lexeme = self.take()
        if kind == "ref":
            return ("ref", lexeme[2:-1])
        if kind == "string":
            return ("lit", lexeme[1:-1])
        if kind == "number":
            return ("lit", Decimal(lexeme))
        if lexeme == "(":
            tree = self.disjunction()
            self.take(")")
            return tree
        if kind == "word" and lexeme in FUNCTIONS:
            self.take("(")
            args = [self.disjunction()]
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.disjunction())
            self.take(")")
            if len(args) != FUNCTIONS[lexeme]:
                raise ValueError(_("%(function)s() takes %(count)s argument(s)") % {
                    "function": lexeme, "count": FUNCTIONS[lexeme]})
            return ("call", lexeme, args)
        if kind == "word" and lexeme in ("true", "false"):
            self.take("(")
            self.take(")")
            return ("lit", lexeme == "true")
        raise ValueError(_("unexpected %(lexeme)r") % {"lexeme": lexeme})


def parse_expression(text):
    return _Parser(text).parse()


def references(tree):
    """The field names an expression refers to."""
    if tree[0] == "ref":
        return {tree[1]}
    if tree[0] == "lit":
        return set()
    parts = tree[2] if tree[0] == "call" else tree[1:]
    found = set()
    for part in parts:
        if isinstance(part, tuple):
            found |= references(part)
    return found


def _comparable(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(map(str, value))
    try:
        return Decimal(str(value)) if re.fullmatch(r"-?\d+(\.\d+)?", str(value)) else str(value)
    except InvalidOperation:
        return str(value)


def evaluate(tree, lookup):
    """The value of an expression; `lookup(name)` answers a reference (None when unanswered)."""
    kind = tree[0]
    if kind == "lit":
        return tree[1]
    if kind == "ref":
        return lookup(tree[1])
    if kind == "or":
        return bool(evaluate(tree[1], lookup)) or bool(evaluate(tree[2], lookup))
    if kind == "and":
        return bool(evaluate(tree[1], lookup)) and bool(evaluate(tree[2], lookup))
    if kind == "cmp":
        op, left, right = tree[1], _comparable(evaluate(tree[2], lookup)), _comparable(evaluate(tree[3], lookup))
        if op in ("=", "!="):
            return (str(left) == str(right)) == (op == "=")
        if not isinstance(left, Decimal) or not isinstance(right, Decimal):
            return False
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    name, args = tree[1], tree[2]
    if name == "not":
        return not evaluate(args[0], lookup)
    if name == "selected":
        chosen = evaluate(args[0], lookup)
        chosen = chosen if isinstance(chosen, list) else str(chosen or "").split()
        return str(evaluate(args[1], lookup)) in [str(value) for value in chosen]
    if name == "count-selected":
        chosen = evaluate(args[0], lookup)
        return Decimal(len(chosen if isinstance(chosen, list) else str(chosen or "").split()))
    if name == "string-length":
        return Decimal(len(str(evaluate(args[0], lookup) or "")))
    raise ValueError(name)


# ---- definitions ---------------------------------------------------------------------------------------------------

def _label_ok(label):
    return isinstance(label, dict) and isinstance(label.get("zh") or label.get("en"), str)


def check_definition(definition):
    """Raises FormError naming the first problem of a definition; returns it unchanged when usable."""
    if not isinstance(definition, dict) or not isinstance(definition.get("fields"), list) or not definition["fields"]:
        raise FormError(_("A form needs a list of fields."), field="fields")
    top_names = _check_fields(definition["fields"], "fields", set(), inside_repeat=False)
    _check_expressions(definition["fields"], "fields", top_names, set())
    return definition


def _check_fields(fields, where, seen, *, inside_repeat):
    names = set()
    for index, field in enumerate(fields):
        path = f"{where}[{index}]"
        if not isinstance(field, dict):
            raise FormError(_("A field is an object."), field=path)
        name, kind = field.get("name"), field.get("type")
        if not isinstance(name, str) or not NAME.match(name):
            raise FormError(_("%(name)r is not a field name (letters, digits and _; not starting with a digit).")
                            % {"name": name}, field=f"{path}.name")
        if name in seen or name in names:
            raise FormError(_("The field name %(name)s is used twice.") % {"name": name}, field=f"{path}.name")
        names.add(name)
        if kind not in TYPES:
            raise FormError(_("%(type)r is not a field type; one of: %(all)s.") % {
                "type": kind, "all": ", ".join(TYPES)}, field=f"{path}.type")
        if not _label_ok(field.get("label")):
            raise FormError(_("The field %(name)s needs a label (zh or en).") % {"name": name}, field=f"{path}.label")
        if kind in SELECT_TYPES:
            choices = field.get("choices")
            if not isinstance(choices, list) or not choices:
                raise FormError(_("The field %(name)s needs choices.") % {"name": name}, field=f"{path}.choices")
            values = [choice.get("value") if isinstance(choice, dict) else None for choice in choices]
            if any(not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value)
                   for value in values) or len(set(values)) != len(values):
                raise FormError(_("Choice values of %(name)s must be distinct names without spaces.") % {
                    "name": name}, field=f"{path}.choices")
        if field.get("role") not in (None, "", *ROLES):
            raise FormError(_("The role is name, id_number or phone."), field=f"{path}.role")
        if field.get("role") and not inside_repeat:
            raise FormError(_("Matching roles belong to fields of the member group."), field=f"{path}.role")
        constraint = field.get("constraint") or {}
        if not isinstance(constraint, dict):
            raise FormError(_("A constraint is an object."), field=f"{path}.constraint")
        if constraint.get("pattern"):
            try:
                re.compile(constraint["pattern"])
            except re.error as exc:
                raise FormError(_("The pattern is not a regular expression."),
                                field=f"{path}.constraint.pattern") from exc
        if kind == "repeat":
            if inside_repeat:
                raise FormError(_("Repeat groups cannot be nested."), field=path)
            children = field.get("children")
            if not isinstance(children, list) or not children:
                raise FormError(_("A repeat group needs children."), field=f"{path}.children")
            _check_fields(children, f"{path}.children", seen | names, inside_repeat=True)
    return names


def _check_expressions(fields, where, top_names, sibling_names):
    names = {field["name"] for field in fields} | sibling_names
    for index, field in enumerate(fields):
        expression = field.get("relevant")
        if expression:
            try:
                unknown = references(parse_expression(str(expression))) - names - top_names
            except ValueError as exc:
                raise FormError(_("The skip logic cannot be read: %(reason)s.") % {"reason": exc},
                                field=f"{where}[{index}].relevant") from exc
            if unknown:
                raise FormError(_("The skip logic refers to unknown fields: %(names)s.") % {
                    "names": ", ".join(sorted(unknown))}, field=f"{where}[{index}].relevant")
        if field.get("type") == "repeat":
            _check_expressions(field["children"], f"{where}[{index}].children", top_names, set())


# ---- answers ---------------------------------------------------------------------------------------------------

def _message(field, default):
    custom = (field.get("constraint") or {}).get("message")
    if isinstance(custom, dict):
        from django.utils.translation import get_language

        return custom.get("zh" if (get_language() or "").startswith("zh") else "en") or default
    return default


def _clean_value(field, value, path):
    """The cleaned value of one answered field, or raises ValueError with the reason."""
    from wangge.registry.identity import clean_id_number, clean_phone

    kind = field["type"]
    constraint = field.get("constraint") or {}
    if kind in ("text", "photo"):
        value = str(value).strip()
        if len(value) > min(int(constraint.get("max_length") or MAX_TEXT), MAX_TEXT):
            raise ValueError(_("too long"))
        if constraint.get("min_length") and len(value) < int(constraint["min_length"]):
            raise ValueError(_("too short"))
        if constraint.get("pattern") and not re.fullmatch(constraint["pattern"], value):
            raise ValueError(_message(field, _("not in the expected format")))
        if field.get("role") == "id_number" or constraint.get("id_number"):
            try:
                value = clean_id_number(value, field=path)
            except DomainError as exc:
                raise ValueError(exc.message) from exc
        if field.get("role") == "phone" or constraint.get("phone"):
            try:
                value = clean_phone(value, field=path)
            except DomainError as exc:
                raise ValueError(exc.message) from exc
        return value
    if kind in ("integer", "decimal"):
        if isinstance(value, bool):
            raise ValueError(_("not a number"))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(_("not a number")) from exc
        if not number.is_finite() or (kind == "integer" and number != number.to_integral_value()):
            raise ValueError(_("not a whole number") if kind == "integer" else _("not a number"))
        if constraint.get("min") is not None and number < Decimal(str(constraint["min"])):
            raise ValueError(_message(field, _("less than %(min)s") % {"min": constraint["min"]}))
        if constraint.get("max") is not None and number > Decimal(str(constraint["max"])):
            raise ValueError(_message(field, _("more than %(max)s") % {"max": constraint["max"]}))
        return int(number) if kind == "integer" else str(number)
    if kind == "date":
        try:
            day = date.fromisoformat(str(value).strip()[:10])
        except ValueError as exc:
            raise ValueError(_("not a date (YYYY-MM-DD)")) from exc
        return day.isoformat()
    if kind == "yes_no":
        text = str(value).strip().lower()
        if value is True or text in ("yes", "true", "1", "是"):
            return "yes"
        if value is False or text in ("no", "false", "0", "否"):
            return "no"
        raise ValueError(_("answer yes or no"))
    if kind == "select_one":
        text = str(value).strip()
        if text not in {choice["value"] for choice in field["choices"]}:
            raise ValueError(_("not one of the choices"))
        return text
    if kind == "select_multiple":
        chosen = value if isinstance(value, list) else str(value).split()
        allowed = {choice["value"] for choice in field["choices"]}
        chosen = [str(item).strip() for item in chosen if str(item).strip()]
        if any(item not in allowed for item in chosen):
            raise ValueError(_("not one of the choices"))
        return sorted(set(chosen), key=chosen.index)
    if kind == "geopoint":
        parts = value if isinstance(value, list) else str(value).split()
        try:
            latitude, longitude = float(parts[0]), float(parts[1])
        except (IndexError, TypeError, ValueError) as exc:
            raise ValueError(_("not a point (latitude longitude)")) from exc
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError(_("not a point (latitude longitude)"))
        return [latitude, longitude]
    raise ValueError(kind)


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def validate_answers(definition, answers):
    """Cleaned answers for `definition`, or AnswerErrors listing every problem with its path. Fields that skip logic
    hides are dropped (their answers, if any, are not kept); unknown fields are refused."""
    if not isinstance(answers, dict):
        raise AnswerErrors([("answers", _("Answers are an object of field names."))])
    problems, cleaned = [], {}
    _validate_level(definition["fields"], answers, "", cleaned, problems, top=cleaned)
    if problems:
        raise AnswerErrors(problems)
    return cleaned


def _validate_level(fields, answers, prefix, cleaned, problems, *, top, parent_lookup=None):
    known = {field["name"] for field in fields}
    for name in answers:
        if name not in known:
            problems.append((f"{prefix}{name}", _("Not a field of this form.")))

    def lookup(reference):
        if reference in known:
            return cleaned.get(reference)
        return parent_lookup(reference) if parent_lookup else top.get(reference)

    for field in fields:
        name, path = field["name"], f"{prefix}{field['name']}"
        if field.get("relevant"):
            try:
                shown = bool(evaluate(parse_expression(field["relevant"]), lookup))
            except (ValueError, ArithmeticError):
                shown = True
            if not shown:
                continue
        value = answers.get(name)
        if field["type"] == "repeat":
            if _blank(value):
                if field.get("required"):
                    problems.append((path, _("Add at least one.")))
                cleaned[name] = []
                continue
            if not isinstance(value, list) or len(value) > MAX_REPEAT:
                problems.append((path, _("A list of at most %(count)s entries.") % {"count": MAX_REPEAT}))
                continue
            rows = []
            for index, row in enumerate(value):
                if not isinstance(row, dict):
                    problems.append((f"{path}[{index}]", _("Each entry is an object.")))
                    continue
                cleaned_row = {}
                _validate_level(field["children"], row, f"{path}[{index}].", cleaned_row, problems, top=top,
                                parent_lookup=lambda reference: top.get(reference))
                rows.append(cleaned_row)
            cleaned[name] = rows
            continue
        if _blank(value):
            if field.get("required"):
                problems.append((path, _("Required.")))
            continue
        try:
            cleaned[name] = _clean_value(field, value, path)
        except ValueError as exc:
            problems.append((path, str(exc)))


# ---- what a form's answers add up to --------------------------------------------------------------------------------

def repeat_field(definition):
    """The member group (the first repeat), or None."""
    return next((field for field in definition["fields"] if field["type"] == "repeat"), None)


def role_field(definition, role):
    group = repeat_field(definition)
    if group is None:
        return None
    return next((child["name"] for child in group["children"] if child.get("role") == role), None)


def stats_of(definition, answers):
    """Counts for the statistics tables: for every field tagged `stat` (or `stat_choices`), the members (or, at the
    top level, the household) whose answer is truthy — yes, a chosen value, a date, a non-zero number."""
    counts = {}

    def count(fields, row):
        for field in fields:
            value = row.get(field["name"])
            if field.get("stat") and value not in (None, "", "no", [], 0, "0"):
                counts[field["stat"]] = counts.get(field["stat"], 0) + 1
            for choice, stat in (field.get("stat_choices") or {}).items():
                chosen = value if isinstance(value, list) else [value]
                if choice in chosen:
                    counts[stat] = counts.get(stat, 0) + 1

    count(definition["fields"], answers)
    group = repeat_field(definition)
    if group is not None:
        for row in answers.get(group["name"], []):
            count(group["children"], row)
    return counts
