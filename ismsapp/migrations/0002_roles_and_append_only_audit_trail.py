"""Create the five role groups, the audit chain head, and make the audit trail append-only in
the database itself: on PostgreSQL, UPDATE and DELETE on audit entries are refused by triggers.

(The embedded SQLite database relies on the model guard and the hash chain only: SQLite has no
TRUNCATE, so a trigger there would also block ``flush`` and the test runner's clean-up.)"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TABLE = "ismsapp_auditentry"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION isms_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER isms_audit_no_update BEFORE UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION isms_audit_append_only();
CREATE TRIGGER isms_audit_no_delete BEFORE DELETE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION isms_audit_append_only();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS isms_audit_no_update ON {TABLE};
DROP TRIGGER IF EXISTS isms_audit_no_delete ON {TABLE};
DROP FUNCTION IF EXISTS isms_audit_append_only();
"""


def triggers_up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)


def triggers_down(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)


def roles_and_head(apps, schema_editor):
    from ismsapp.roles import sync_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model)
    apps.get_model("ismsapp", "AuditChainHead").objects.get_or_create(pk=1, defaults={"seq": 0, "entry_hash": "0" * 64})


class Migration(migrations.Migration):
    dependencies = [
        ("ismsapp", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(roles_and_head, migrations.RunPython.noop),
        migrations.RunPython(triggers_up, triggers_down),
    ]
