"""Search's typo vocabulary (the words of customers' names) and accent-folded search
text ("emile" finds "Émile"), both filled for existing rows in batches."""

from typing import Any

from django.db import migrations, models

from rapport.customers.normalize import fold_accents, name_words

BATCH = 5000


def fill(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    table = quote("customers_customer")
    words: set[str] = set()
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, first_name, last_name, organization_name, search_text "  # noqa: S608
                f"FROM {table} WHERE id > %s ORDER BY id LIMIT %s",
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            refolded = []
            for pk, first, last_name, organization, text in rows:
                words |= name_words(first or "", last_name or "", organization or "")
                folded = fold_accents(text or "")
                if folded != text:  # only rows with accents: the search index is rewritten
                    refolded.append((folded, pk))
            if refolded:
                cursor.executemany(
                    f"UPDATE {table} SET search_text = %s WHERE id = %s",  # noqa: S608
                    refolded,
                )
            last = rows[-1][0]
        ordered = sorted(words)
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start : start + BATCH]
            cursor.executemany(
                f"INSERT INTO {quote('customers_searchword')} (word) VALUES (%s)",  # noqa: S608
                [(w,) for w in chunk],
            )


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0009_name_sort_key'),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchWord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('word', models.CharField(max_length=40, unique=True)),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
