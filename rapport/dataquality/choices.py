"""The choices of an import, in a module that needs no app registry: the `rapport import`
command checks its arguments with them before Django sets up."""

from __future__ import annotations

from django.db import models


class ImportObjectType(models.TextChoices):
    CONTACTS = "contacts", "Contacts"
    ORDERS = "orders", "Orders"


class UpsertBy(models.TextChoices):
    EXTERNAL_ID = "external_id", "External ID"
    EMAIL = "email", "E-mail address"


EXPORT_FORMATS = ("csv", "xlsx")
