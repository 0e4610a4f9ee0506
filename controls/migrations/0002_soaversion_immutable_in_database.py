"""Published SoA versions are immutable in the database itself: on PostgreSQL, UPDATE and DELETE
on the version table are refused by triggers, so bulk queryset calls and raw SQL cannot alter or
remove a published snapshot (a version stores its snapshot rows in the same row, as JSON).

SQLite (the embedded development database) relies on the model and queryset guards and on the
snapshot's SHA-256, checked whenever a version is shown or exported; a trigger there would also
block ``flush`` and the test runner's clean-up (SQLite has no TRUNCATE).
"""

from django.db import migrations

TABLE = "controls_soaversion"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION controls_soaversion_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'published SoA version % of edition % is immutable (% refused)', OLD.number, OLD.edition, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Edit the working draft and publish a new version.';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER controls_soaversion_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION controls_soaversion_immutable();
CREATE TRIGGER controls_soaversion_no_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION controls_soaversion_immutable();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS controls_soaversion_no_update ON {TABLE};
DROP TRIGGER IF EXISTS controls_soaversion_no_delete ON {TABLE};
DROP FUNCTION IF EXISTS controls_soaversion_immutable();
"""


def triggers_up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)


def triggers_down(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)


class Migration(migrations.Migration):
    dependencies = [("controls", "0001_initial")]

    operations = [migrations.RunPython(triggers_up, triggers_down)]
