"""Tables whose rows the database itself refuses to change: on PostgreSQL, triggers refuse UPDATE
and DELETE, so neither bulk queryset calls nor raw SQL can alter what the application only appends
(the audit trail, published SoA versions).

The embedded SQLite database relies on the model guards and the hash checks only: SQLite has no
TRUNCATE, so such triggers there would also block ``flush`` and the test runner's clean-up.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def refuse_update_and_delete(table: str, *, function: str, triggers: str, raise_statement: str) -> migrations.RunPython:
    """A migration operation adding (and, reversed, dropping) the PL/pgSQL ``function`` and the
    triggers ``<triggers>_no_update`` and ``<triggers>_no_delete`` on ``table``;
    ``raise_statement`` is the ``RAISE EXCEPTION ...;`` that refuses the change."""
    up = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    {raise_statement}
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {triggers}_no_update BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
CREATE TRIGGER {triggers}_no_delete BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    down = f"""
DROP TRIGGER IF EXISTS {triggers}_no_update ON {table};
DROP TRIGGER IF EXISTS {triggers}_no_delete ON {table};
DROP FUNCTION IF EXISTS {function}();
"""

    def run(sql: str) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql, params=None)

        return apply

    return migrations.RunPython(run(up), run(down))
