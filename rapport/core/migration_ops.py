"""Migration operations Django's own would make needlessly expensive."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def drop_fk_indexes(
    app_label: str, *alter_fields: migrations.AlterField
) -> migrations.SeparateDatabaseAndState:
    """`alter_fields` of the app `app_label` (each a ForeignKey going from db_index=True
    to False) applied to the migration state, and in the database only its index dropped.

    Django's AlterField rebuilds the whole table on SQLite to drop one index (a copy of a
    ten-million-row timeline); `DROP INDEX` is what the change needs, on both databases.
    Each field's index is found by introspection (its only column is the field's, it is
    not unique and not one of the model's declared indexes), so the name Django gave it
    need not be known."""
    pairs = [(op.model_name, op.name) for op in alter_fields]

    def forward(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        for model_name, field_name in pairs:
            model = apps.get_model(app_label, model_name)
            column = model._meta.get_field(field_name).column
            declared = {index.name for index in model._meta.indexes}
            with connection.cursor() as cursor:
                constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            for name, info in constraints.items():
                if (
                    info.get("index")
                    and not info.get("unique")
                    and not info.get("primary_key")
                    and info.get("columns") == [column]
                    and name not in declared
                ):
                    schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")

    def backward(apps: Any, schema_editor: Any) -> None:
        for model_name, field_name in pairs:
            model = apps.get_model(app_label, model_name)
            field = model._meta.get_field(field_name)
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))

    return migrations.SeparateDatabaseAndState(
        state_operations=list(alter_fields),
        database_operations=[migrations.RunPython(forward, backward)],
    )
