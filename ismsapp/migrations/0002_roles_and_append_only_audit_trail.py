"""Create the five role groups, the audit chain head, and make the audit trail append-only in
the database itself: on PostgreSQL, UPDATE and DELETE on audit entries are refused by triggers.

(The embedded SQLite database relies on the model guard and the hash chain only: SQLite has no
TRUNCATE, so a trigger there would also block ``flush`` and the test runner's clean-up.)"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from ismsapp.dbguards import refuse_update_and_delete

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
        refuse_update_and_delete(
            "ismsapp_auditentry",
            function="isms_audit_append_only",
            triggers="isms_audit",
            raise_statement="RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP;",
        ),
    ]
