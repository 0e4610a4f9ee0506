"""Reference data of ISO/IEC 27001, loaded by ``manage.py load_catalogue`` (never edited in the app)."""

from __future__ import annotations

from django.db import models

from ismsapp.querysets import ScopedQuerySet


class Edition(models.TextChoices):
    ISO27001_2013 = "2013", "ISO/IEC 27001:2013"
    ISO27001_2022 = "2022", "ISO/IEC 27001:2022"


class ControlGroup(models.Model):
    """A domain or a control objective of 2013 Annex A, or a theme of 2022 Annex A."""

    class Kind(models.TextChoices):
        DOMAIN = "domain", "Domain"
        OBJECTIVE = "objective", "Control objective"
        THEME = "theme", "Theme"

    edition = models.CharField(max_length=4, choices=Edition.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    ref = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    position = models.PositiveIntegerField()

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["edition", "position"]
        constraints = [models.UniqueConstraint(fields=["edition", "ref"], name="controlgroup_unique_ref")]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


class ControlAttribute(models.Model):
    """An ISO/IEC 27002:2022 attribute value (control type, security property, cybersecurity concept)."""

    class Kind(models.TextChoices):
        CONTROL_TYPE = "control_type", "Control type"
        SECURITY_PROPERTY = "security_property", "Information security property"
        CYBERSECURITY_CONCEPT = "cybersecurity_concept", "Cybersecurity concept"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    value = models.CharField(max_length=40)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "value"]
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="controlattribute_unique")]

    def __str__(self) -> str:
        return f"#{self.value}"


class Control(models.Model):
    """An Annex A control of one edition."""

    edition = models.CharField(max_length=4, choices=Edition.choices)
    ref = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    section = models.ForeignKey(
        ControlGroup,
        on_delete=models.PROTECT,
        related_name="section_controls",
        help_text="Domain (2013) or theme (2022): the top-level grouping.",
    )
    objective = models.ForeignKey(
        ControlGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="objective_controls",
        help_text="Control objective (2013 only).",
    )
    is_new = models.BooleanField(default=False, help_text="New in ISO/IEC 27001:2022.")
    attributes = models.ManyToManyField(ControlAttribute, blank=True, related_name="controls")
    position = models.PositiveIntegerField()

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["edition", "position"]
        constraints = [models.UniqueConstraint(fields=["edition", "ref"], name="control_unique_ref")]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


class ControlMapping(models.Model):
    """One pair of ISO/IEC 27002:2022 Annex B: a 2013 control and a 2022 control covering it."""

    control_2013 = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mapped_to")
    control_2022 = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mapped_from")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["control_2013", "control_2022"], name="controlmapping_unique")]

    def __str__(self) -> str:
        return f"{self.control_2013.ref} -> {self.control_2022.ref}"


class Clause(models.Model):
    """A management-system clause (4-10) of one edition; headings are the top-level clauses."""

    edition = models.CharField(max_length=4, choices=Edition.choices)
    ref = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    is_heading = models.BooleanField(default=False)
    position = models.PositiveIntegerField()

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["edition", "position"]
        constraints = [models.UniqueConstraint(fields=["edition", "ref"], name="clause_unique_ref")]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"
