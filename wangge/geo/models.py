from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wangge.accounts.roles import VIEW_AREA
from wangge.core.changelog import track_changes
from wangge.core.scope import ScopedModel, ScopedQuerySet

from . import codes


@track_changes(exclude=["validation_report", "activation_report"])
class Generation(models.Model):
    """One version of the district's boundaries (复核调整). Draft → validated → active → retired.

    Each generation holds a full copy of its areas, so a draft can be redrawn freely while the active one keeps
    serving, and any past generation stays queryable by the dates it was in force.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        VALIDATED = "validated", _("validated")
        ACTIVE = "active", _("active")
        RETIRED = "retired", _("retired")

    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT, db_index=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    validated_at = models.DateTimeField(_("validated at"), null=True, blank=True)
    validation_report = models.JSONField(_("validation report"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    activation_report = models.JSONField(_("activation report"), null=True, blank=True)
    # The dates the generation was in force: [effective_from, effective_to).
    effective_from = models.DateField(_("in force from"), null=True, blank=True)
    effective_to = models.DateField(_("in force until"), null=True, blank=True)

    class Meta:
        verbose_name = _("boundary generation")
        verbose_name_plural = _("boundary generations")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=Q(state="active"), name="one_active_generation"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_state_display()} {self.description}".strip()

    @property
    def is_editable(self):
        return self.state in (self.State.DRAFT, self.State.VALIDATED)


class AreaQuerySet(ScopedQuerySet):
    def current(self):
        return self.filter(generation__state=Generation.State.ACTIVE)

    def at(self, date):
        """Areas of the generation that was in force on `date`."""
        return self.filter(
            Q(generation__effective_from__lte=date)
            & (Q(generation__effective_to__isnull=True) | Q(generation__effective_to__gt=date)),
            generation__state__in=[Generation.State.ACTIVE, Generation.State.RETIRED],
        )

    def covering(self, point):
        return self.filter(geom__covers=point)


@track_changes()
class Area(ScopedModel):
    """A district, subdistrict, community/village or terminal grid, in one generation."""

    class Level(models.TextChoices):
        DISTRICT = codes.DISTRICT, _("district")
        SUBDISTRICT = codes.SUBDISTRICT, _("subdistrict")
        COMMUNITY = codes.COMMUNITY, _("community")
        GRID = codes.GRID, _("grid")

    class Kind(models.TextChoices):
        BASIC = "basic", _("basic grid")
        DEDICATED = "dedicated", _("dedicated grid")

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="areas")
    level = models.CharField(_("level"), max_length=12, choices=Level.choices)
    code = models.CharField(_("code"), max_length=15)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.BASIC)
    dedicated_to = models.CharField(_("dedicated to"), max_length=100, blank=True,
                                    help_text=_("For a dedicated grid: the school, hospital, park or enterprise."))
    household_target = models.PositiveIntegerField(_("household target"), null=True, blank=True)
    population_target = models.PositiveIntegerField(_("population target"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    geom = models.MultiPolygonField(_("boundary"), srid=4326)
    area_m2 = models.FloatField(_("area (m²)"), null=True, blank=True)
    label_point = models.PointField(_("label point"), srid=4326, null=True, blank=True)
    # The 6-digit district code on every row: the distribution column on Citus (ARCHITECTURE.md, Scale).
    district_code = models.CharField(max_length=6, db_index=True, editable=False)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "code"], name="unique_code_per_generation"),
        ]
        indexes = [
            models.Index(fields=["generation", "level", "code"], name="area_gen_level_code"),
            models.Index(fields=["code"], name="area_code_prefix", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        self.district_code = self.code[:6]
        super().save(*args, **kwargs)

    @classmethod
    def scope_q(cls, scope_codes, action=None):
        """Own subtree; for viewing, also the ancestors of each assigned area (a community worker knows its own
        district's outline and name). Every other action — history, edits — stays inside the subtree."""
        query = super().scope_q(scope_codes, action)
        if action != VIEW_AREA:
            return query
        ancestors = {ancestor for code in scope_codes for ancestor in codes.ancestor_codes(code)}
        if ancestors:
            query |= Q(code__in=sorted(ancestors))
        return query


