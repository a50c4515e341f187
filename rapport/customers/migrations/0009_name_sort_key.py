"""Lists sort names by `Customer.sort_name` (accent- and case-folded, particle-aware)
instead of display_name's binary order: the column, filled for existing rows in batches,
compared with the "C" collation on PostgreSQL, and the name indexes rebuilt on it."""

from typing import Any

from django.conf import settings
from django.db import migrations, models

import rapport.customers.models
from rapport.customers.normalize import name_sort_key

BATCH = 5000


def add_column(apps: Any, schema_editor: Any) -> None:
    """ADD COLUMN on both databases. Django's AddField would rebuild the whole table on
    SQLite (a NOT NULL column), which costs a copy of every row and drops the FTS5
    triggers of migration 0003. PostgreSQL compares the key byte-wise ("C"), as SQLite's
    BINARY does: a locale's collation would ignore the spaces between words ("Emil Zola"
    after "Emilia")."""
    connection = schema_editor.connection
    table = connection.ops.quote_name("customers_customer")
    if connection.vendor == "postgresql":
        schema_editor.execute(
            f'ALTER TABLE {table} ADD COLUMN "sort_name" varchar(255) COLLATE "C" '
            "NOT NULL DEFAULT ''"
        )
        schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN "sort_name" DROP DEFAULT')
    else:
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN \"sort_name\" varchar(255) NOT NULL DEFAULT ''"
        )


def drop_column(apps: Any, schema_editor: Any) -> None:
    table = schema_editor.connection.ops.quote_name("customers_customer")
    schema_editor.execute(f'ALTER TABLE {table} DROP COLUMN "sort_name"')


def fill_sort_names(apps: Any, schema_editor: Any) -> None:
    """Each row's key, a batch of ids at a time (bounded memory at a million rows)."""
    connection = schema_editor.connection
    table = connection.ops.quote_name("customers_customer")
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, display_name FROM {table} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            cursor.executemany(
                f"UPDATE {table} SET sort_name = %s WHERE id = %s",  # noqa: S608
                [(name_sort_key(name or ""), pk) for pk, name in rows],
            )
            last = rows[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0008_stage_index_in_lifecycle_order'),
        ('identity', '0003_drop_covered_fk_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name='customer', name='customer_name'),
        migrations.RemoveIndex(model_name='customer', name='customer_kind_name'),
        migrations.RemoveIndex(model_name='customer', name='customer_owner_name'),
        migrations.RemoveIndex(model_name='customer', name='customer_team_name'),
        migrations.RemoveIndex(model_name='customer', name='customer_stage'),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, drop_column)],
            state_operations=[
                migrations.AddField(
                    model_name='customer',
                    name='sort_name',
                    field=rapport.customers.models.NameSortKeyField(
                        blank=True, default='', max_length=255
                    ),
                ),
            ],
        ),
        migrations.RunPython(fill_sort_names, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['sort_name', 'id'], name='customer_name'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['kind', 'sort_name', 'id'], name='customer_kind_name'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['owner', 'sort_name', 'id'], name='customer_owner_name'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['team', 'sort_name', 'id'], name='customer_team_name'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['-lifecycle_stage', 'sort_name', 'id'], name='customer_stage'),
        ),
    ]
