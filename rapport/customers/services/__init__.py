"""Writes to the customer data hub, one module per business area. Each function is the one
way to do its business action: it checks access before writing, validates and normalises,
writes in one transaction, and records the audit row, the outbox event and (for
interactions) the timeline entry. Callers import from here; the modules are layered
(inputs and derived fields at the bottom, actions on top) so none imports another in a
cycle."""

from rapport.customers.services.bulk import (
    BULK_ACTIONS,
    BULK_BATCH,
    BulkResult,
    customers_bulk_assign,
    customers_bulk_delete,
    customers_bulk_matching,
    customers_bulk_matching_start,
    customers_bulk_tag,
)
from rapport.customers.services.cleansing import CLEANSING_FIXES, customers_bulk_cleanse
from rapport.customers.services.consent import consent_record
from rapport.customers.services.custom_fields import (
    custom_field_deactivate,
    custom_field_define,
    custom_field_update,
)
from rapport.customers.services.customers import (
    _audited,
    _prefetched,
    check_assignment,
    customer_create,
    customer_delete,
    customer_update,
    set_tags,
)
from rapport.customers.services.derived import (
    display_name_for,
    refresh_derived_fields,
    remember_search_words,
    search_text_for,
)
from rapport.customers.services.gdpr import customer_erase, customer_export_personal_data
from rapport.customers.services.inputs import (
    CUSTOMER_TYPE,
    SCALAR_FIELDS,
    AddressInput,
    CustomerInput,
    EmailInput,
    PhoneInput,
)
from rapport.customers.services.interactions import interaction_record, note_add
from rapport.customers.services.relationships import (
    affiliation_create,
    affiliation_delete,
    affiliation_update,
    relationship_create,
    relationship_delete,
    relationship_payload,
)
from rapport.customers.services.saved_views import (
    list_columns_save,
    saved_view_create,
    saved_view_delete,
)
from rapport.customers.services.timeline import TimelineEntry, timeline_append_many
from rapport.customers.services.upsert import (
    MATCH_EMAIL,
    MATCH_EXTERNAL_ID,
    ContactRow,
    RowError,
    UpsertPlan,
    customers_bulk_upsert,
    person_template,
    prepare_created,
)

__all__ = [
    "BULK_ACTIONS",
    "BULK_BATCH",
    "CLEANSING_FIXES",
    "CUSTOMER_TYPE",
    "MATCH_EMAIL",
    "MATCH_EXTERNAL_ID",
    "SCALAR_FIELDS",
    "AddressInput",
    "BulkResult",
    "ContactRow",
    "CustomerInput",
    "EmailInput",
    "PhoneInput",
    "RowError",
    "TimelineEntry",
    "UpsertPlan",
    "_audited",
    "_prefetched",
    "affiliation_create",
    "affiliation_delete",
    "affiliation_update",
    "check_assignment",
    "consent_record",
    "custom_field_deactivate",
    "custom_field_define",
    "custom_field_update",
    "customer_create",
    "customer_delete",
    "customer_erase",
    "customer_export_personal_data",
    "customer_update",
    "customers_bulk_assign",
    "customers_bulk_cleanse",
    "customers_bulk_delete",
    "customers_bulk_matching",
    "customers_bulk_matching_start",
    "customers_bulk_tag",
    "customers_bulk_upsert",
    "display_name_for",
    "interaction_record",
    "list_columns_save",
    "note_add",
    "person_template",
    "prepare_created",
    "refresh_derived_fields",
    "relationship_create",
    "relationship_delete",
    "relationship_payload",
    "remember_search_words",
    "saved_view_create",
    "saved_view_delete",
    "search_text_for",
    "set_tags",
    "timeline_append_many",
]
