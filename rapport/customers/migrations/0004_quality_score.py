"""The data-quality score and its issue bits on every customer (customers/quality.py).

On SQLite, adding a NOT NULL column makes Django rebuild the table (create, copy, drop,
rename), which drops the table's triggers: the ones that keep the FTS5 search index in
step (migration 0003) are created again here. The full-text index itself survives: the
rows keep their ids. Existing rows start "not scored"; the worker's daily
`customers.quality_rescore` job (run at once after an upgrade) or `rapport rescore`
scores them.
"""

from typing import Any

from django.db import migrations, models

SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS customer_search_ai AFTER INSERT ON customers_customer BEGIN "
    "INSERT INTO customer_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS customer_search_ad AFTER DELETE ON customers_customer BEGIN "
    "INSERT INTO customer_search(customer_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS customer_search_au AFTER UPDATE OF search_text "
    "ON customers_customer BEGIN "
    "INSERT INTO customer_search(customer_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO customer_search(rowid, search_text) VALUES (new.id, new.search_text); END",
]


def _restore_search_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_search_indexes")]

    operations = [
        # Reversed last: removing the columns rebuilds the table again.
        migrations.RunPython(migrations.RunPython.noop, _restore_search_triggers),
        migrations.AddField(
            model_name="customer",
            name="quality_issues",
            field=models.PositiveIntegerField(default=1073741824),
        ),
        migrations.AddField(
            model_name="customer",
            name="quality_score",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["quality_score", "id"], name="customer_quality"),
        ),
        migrations.RunPython(_restore_search_triggers, migrations.RunPython.noop),
    ]
