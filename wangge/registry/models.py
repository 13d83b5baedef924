"""The registry (到单位、到户、到人): places, households, persons, tags and organizations, each placed in its
terminal grid. Every row carries the 15-digit `grid_code` (the scope spine: restrict() filters by its prefix) and the
6-digit `district_code` (the distribution column at city scale)."""

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

from wangge.core.changelog import track_changes
from wangge.core.scope import ScopedModel, ScopedQuerySet


class Located(ScopedModel):
    """A row placed in a terminal grid. `grid_code` is empty when the place lies outside every grid (coverage
    reports list those)."""

    scope_field = "grid_code"

    # Indexed once per table, with varchar_pattern_ops (Meta.indexes): it serves equality and the prefix (subtree)
    # filters restrict() makes. db_index=True would add a plain btree and a second LIKE index on top: every extra
    # index is paid on every row of a bulk import.
    grid_code = models.CharField(_("grid code"), max_length=15, blank=True)
    # Not indexed: no query filters by it; it is the distribution column should a city outgrow one server.
    district_code = models.CharField(max_length=6, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True


@track_changes()
class Courtyard(Located):
    """A courtyard or residential compound (院落/小区)."""

    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    property_manager = models.CharField(_("property manager"), max_length=100, blank=True)
    geom = models.MultiPolygonField(_("boundary"), srid=4326)

    class Meta:
        verbose_name = _("courtyard")
        verbose_name_plural = _("courtyards")
        indexes = [models.Index(fields=["grid_code"], name="courtyard_grid_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.name


@track_changes()
class Building(Located):
    """A building (楼栋): a point (and optionally a footprint), numbered 00001–99999 within its grid."""

    number = models.CharField(_("building number"), max_length=5, help_text=_("5 digits, unique in the grid."))
    name = models.CharField(_("name"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    use = models.CharField(_("use"), max_length=30, blank=True)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)
    units = models.PositiveSmallIntegerField(_("units"), null=True, blank=True)
    courtyard = models.ForeignKey(Courtyard, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="buildings")
    location = models.PointField(_("location"), srid=4326)
    footprint = models.PolygonField(_("footprint"), srid=4326, null=True, blank=True)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        constraints = [models.UniqueConstraint(fields=["grid_code", "number"], name="building_number_in_grid")]
        indexes = [models.Index(fields=["grid_code"], name="building_grid_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.grid_code}-{self.number} {self.name}".strip()


@track_changes()
class House(Located):
    """A house or room (房屋/户室) in a building; its grid is its building's."""

    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="houses")
    unit = models.CharField(_("unit"), max_length=10, blank=True)
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    room = models.CharField(_("room"), max_length=20)
    use = models.CharField(_("use"), max_length=30, blank=True)
    area_m2 = models.DecimalField(_("area (m²)"), max_digits=8, decimal_places=2, null=True, blank=True)
    owner_name = models.CharField(_("owner"), max_length=100, blank=True)
    rented = models.BooleanField(_("rented"), default=False)

    class Meta:
        verbose_name = _("house")
        verbose_name_plural = _("houses")
        constraints = [models.UniqueConstraint(fields=["building", "unit", "room"], name="house_in_building")]
        indexes = [models.Index(fields=["grid_code"], name="house_grid_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.building} {self.unit}-{self.room}"


@track_changes()
class Household(Located):
    """A household (户): its number, the house it lives in, its head; members are persons."""

    number = models.CharField(_("household number"), max_length=30, unique=True)
    house = models.ForeignKey(House, null=True, blank=True, on_delete=models.SET_NULL, related_name="households")
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        indexes = [models.Index(fields=["grid_code"], name="household_grid_prefix",
                                opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.number


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", _("registered resident (户籍人口)")
    FLOWING = "flowing", _("flowing population (流动人口)")
    FOREIGN = "foreign", _("foreign national (境外人员)")
    UNREGISTERED = "unregistered", _("not registered (未落户人员)")


class HouseholdStatus(models.TextChoices):
    TOGETHER = "together", _("lives at the registered household (人户同在)")
    AWAY = "away", _("registered here, lives elsewhere (户在人不在)")
    ELSEWHERE = "elsewhere", _("lives here, registered elsewhere (人在户不在)")


class PersonStatus(models.TextChoices):
    NORMAL = "normal", _("normal")
    MOVED_OUT = "moved_out", _("moved out")
    DECEASED = "deceased", _("deceased")
    MERGED = "merged", _("merged into another record")


@track_changes(exclude=["id_number_enc", "phone_enc"])
class Person(Located):
    """A person (人): one record per person (一人一档), unique by ID number through its blind index.

    The ID and phone numbers are never stored in plain text (wangge/core/pii.py): `*_enc` holds the AES-GCM
    ciphertext, `*_index` the HMAC blind index for exact search and de-duplication, `*_masked` what lists show.
    Gender and birth date are derived from the ID number.
    """

    name = models.CharField(_("name"), max_length=50)
    id_number_enc = models.TextField(editable=False, blank=True)
    id_number_index = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    gender = models.CharField(_("gender"), max_length=6, blank=True,
                              choices=[("male", _("male")), ("female", _("female"))])
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone_enc = models.TextField(editable=False, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    ethnicity = models.CharField(_("ethnicity"), max_length=20, blank=True)
    hukou_place = models.CharField(_("household registration place"), max_length=200, blank=True)
    residence_type = models.CharField(_("residence type"), max_length=12, choices=ResidenceType.choices,
                                      default=ResidenceType.REGISTERED)
    household_status = models.CharField(_("person–household status"), max_length=10,
                                        choices=HouseholdStatus.choices, default=HouseholdStatus.TOGETHER)
    house = models.ForeignKey(House, null=True, blank=True, on_delete=models.SET_NULL, related_name="occupants")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="members")
    relation_to_head = models.CharField(_("relation to the head"), max_length=20, blank=True)
    work_unit = models.CharField(_("work unit"), max_length=100, blank=True)
    party_member = models.BooleanField(_("party member"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=PersonStatus.choices, default=PersonStatus.NORMAL)
    status_date = models.DateField(_("status date"), null=True, blank=True)
    # One person, one record: a duplicate merged into another keeps its row (and so its change log), pointing here.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged",
                                    editable=False)
    # Flowing population (流动人口)
    inflow_date = models.DateField(_("inflow date"), null=True, blank=True)
    inflow_reason = models.CharField(_("inflow reason"), max_length=100, blank=True)
    origin = models.CharField(_("origin"), max_length=100, blank=True)
    residence_permit = models.CharField(_("residence permit"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        constraints = [
            models.UniqueConstraint(fields=["id_number_index"], condition=~models.Q(id_number_index=""),
                                    name="one_person_per_id_number"),
        ]
        indexes = [
            models.Index(fields=["grid_code"], name="person_grid_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name"], name="person_name_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["phone_index"], name="person_phone_index", condition=~models.Q(phone_index="")),
            # The coverage report (coverage.person_lines) counts from these alone, without reading the wide rows.
            models.Index(fields=["grid_code"], name="person_normal_grid", opclasses=["varchar_pattern_ops"],
                         include=["household", "house"], condition=models.Q(status="normal")),
            models.Index(fields=["house"], name="person_normal_house", condition=models.Q(status="normal")),
        ]

    def __str__(self):
        return self.name


class TagCategory(models.TextChoices):
    SPECIAL = "special", _("special population (特殊人群)")
    CARE = "care", _("care group (关怀对象)")
    KEY = "key", _("key person (重点人员)")


@track_changes()
class TagType(models.Model):
    """A kind of tag with its own fields (e.g. 社区矫正人员 with sentence dates). Data, not code: an admin adds one
    with a field schema, and tag values are validated against it on write. Sensitive tags (health, special
    populations — PIPL Art. 28) are visible only to roles holding `registry.view_sensitive`."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=50)
    category = models.CharField(_("category"), max_length=10, choices=TagCategory.choices)
    sensitive = models.BooleanField(_("sensitive"), default=False)
    fields = models.JSONField(_("fields"), default=list, blank=True,
                              help_text=_('[{"name": "sentence_end", "label": "…", "type": "date|text|number|'
                                          'choice|bool", "required": true, "choices": […]}]'))

    FIELD_TYPES = ("text", "number", "bool", "date", "choice")

    class Meta:
        verbose_name = _("tag type")
        verbose_name_plural = _("tag types")

    def __str__(self):
        return self.name

    def clean(self):
        """The field schema is checked when it is saved, so tag values can always be validated against it."""
        from django.core.exceptions import ValidationError

        if not isinstance(self.fields, list):
            raise ValidationError({"fields": _("A list of field definitions is expected.")})
        names = set()
        for position, spec in enumerate(self.fields):
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
                raise ValidationError({"fields": _("Field %(n)d needs a name.") % {"n": position + 1}})
            if spec["name"] in names:
                raise ValidationError({"fields": _("The field %(name)s is defined twice.") % {"name": spec["name"]}})
            names.add(spec["name"])
            if spec.get("type", "text") not in self.FIELD_TYPES:
                raise ValidationError({"fields": _("Field %(name)s: the type must be one of %(types)s.")
                                       % {"name": spec["name"], "types": ", ".join(self.FIELD_TYPES)}})
            if spec.get("type") == "choice" and not (isinstance(spec.get("choices"), list) and spec["choices"]):
                raise ValidationError({"fields": _("Field %(name)s: a choice field lists its choices.")
                                       % {"name": spec["name"]}})


@track_changes()
class PersonTag(Located):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="tags")
    tag_type = models.ForeignKey(TagType, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(_("data"), default=dict, blank=True)
    valid_from = models.DateField(_("from"), null=True, blank=True)
    valid_to = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("person tag")
        verbose_name_plural = _("person tags")
        constraints = [models.UniqueConstraint(fields=["person", "tag_type"], name="one_tag_of_a_type")]
        indexes = [models.Index(fields=["grid_code"], name="persontag_grid_prefix", opclasses=["varchar_pattern_ops"])]


class OrganizationKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("enterprise")
    SHOP = "shop", _("shop")
    GOVERNMENT = "government", _("government body")
    SCHOOL = "school", _("school")
    HOSPITAL = "hospital", _("hospital")
    SOCIAL = "social", _("social organization")
    OTHER = "other", _("other")


KEY_PLACE_KINDS = [
    ("internet_cafe", _("internet café (网吧)")),
    ("hazardous_chemicals", _("hazardous chemicals (危化品单位)")),
    ("construction_site", _("construction site (建筑工地)")),
    ("fire_safety", _("key fire-safety unit (消防重点单位)")),
    ("crowded_place", _("crowded place (人员密集场所)")),
]


@track_changes(exclude=["safety_phone_enc"])
class Organization(Located):
    """An organization (实有单位): enterprise, shop, government body, school, hospital, social organization …"""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=OrganizationKind.choices)
    uscc = models.CharField(_("unified social credit code"), max_length=18, null=True, blank=True, unique=True)
    legal_representative = models.CharField(_("legal representative"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    location = models.PointField(_("location"), srid=4326)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    safety_contact = models.CharField(_("safety contact"), max_length=50, blank=True)
    safety_phone_enc = models.TextField(editable=False, blank=True)
    safety_phone_masked = models.CharField(_("safety contact phone"), max_length=20, blank=True, editable=False)
    key_place_kinds = ArrayField(models.CharField(max_length=30, choices=KEY_PLACE_KINDS), default=list, blank=True,
                                 verbose_name=_("key place kinds"))
    building = models.ForeignKey(Building, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="organizations")

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        indexes = [models.Index(fields=["grid_code"], name="org_grid_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.name


@track_changes()
class PartyOrganization(Located):
    """A party organization (党组织) and the grids it serves (红色网格). `grid_code` is where it sits."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, blank=True,
                            help_text=_("e.g. 党委, 党总支, 党支部"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="party_organizations")
    served_grid_codes = ArrayField(models.CharField(max_length=15), default=list, blank=True,
                                   verbose_name=_("grids served"))
    members = models.ManyToManyField(Person, blank=True, related_name="party_organizations")

    class Meta:
        verbose_name = _("party organization")
        verbose_name_plural = _("party organizations")
        indexes = [models.Index(fields=["grid_code"], name="partyorg_grid_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.name


class RevealAudit(models.Model):
    """One row per reveal of a masked personal value: who, whose, which field, why, when, in which request.
    Written by the reveal service in the same transaction as the answer; users cannot change it (no API writes)."""

    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    field = models.CharField(max_length=30)
    reason = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("reveal audit")
        verbose_name_plural = _("reveal audits")


class ImportRun(models.Model):
    """A registry import queued as a background job (large files): its state, and its report when done.
    The uploaded file is kept only until the job has read it: it holds personal data in plain text."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        REJECTED = "rejected", _("rejected: nothing written")
        FAILED = "failed", _("failed: nothing written")

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    file_name = models.CharField(max_length=200, blank=True)
    stored_path = models.CharField(max_length=300, blank=True, editable=False)
    mode = models.CharField(max_length=12, default="dry_run")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
