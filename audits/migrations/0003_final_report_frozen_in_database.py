"""A finalised audit report is frozen in the database itself (PostgreSQL triggers):

- the report row (its PDF's SHA-256, who finalised it and when) refuses UPDATE and DELETE;
- once an audit has a final report, its checklist, impartiality overrides, scope (controls,
  clauses) and team refuse INSERT, UPDATE and DELETE, and the audit row refuses any change but
  the last step of its workflow (reporting -> closed).

SQLite (the embedded development database) relies on the services' checks only; see
``ismsapp.dbguards`` for why.
"""

from typing import Any

from django.db import migrations

from ismsapp.dbguards import refuse_update_and_delete

FOLLOWERS = (
    "audits_checklistitem",
    "audits_impartialityoverride",
    "audits_audit_controls",
    "audits_audit_clauses",
    "audits_audit_team",
)
AUDIT_FIELDS = (
    "title",
    "audit_type",
    "processes",
    "sites",
    "criteria",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "lead_auditor_id",
    "programme_id",
)

CREATE_FOLLOWER_TRIGGERS = "".join(
    f"CREATE TRIGGER {table}_report_final BEFORE INSERT OR UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION audits_refuse_when_report_final();\n"
    for table in FOLLOWERS
)
DROP_FOLLOWER_TRIGGERS = "".join(f"DROP TRIGGER IF EXISTS {table}_report_final ON {table};\n" for table in FOLLOWERS)
NEW_FIELDS = ", ".join("NEW." + name for name in AUDIT_FIELDS)
OLD_FIELDS = ", ".join("OLD." + name for name in AUDIT_FIELDS)

UP = f"""
CREATE OR REPLACE FUNCTION audits_refuse_when_report_final() RETURNS trigger AS $$
DECLARE
    target bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN target := NEW.audit_id; ELSE target := OLD.audit_id; END IF;
    IF EXISTS (SELECT 1 FROM audits_auditreport WHERE audit_id = target) THEN
        RAISE EXCEPTION 'the report of audit % is final (% on % refused)', target, TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
{CREATE_FOLLOWER_TRIGGERS}
CREATE OR REPLACE FUNCTION audits_audit_refuse_when_report_final() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audits_auditreport WHERE audit_id = OLD.id) THEN
        IF TG_OP = 'DELETE'
           OR ({NEW_FIELDS})
              IS DISTINCT FROM ({OLD_FIELDS})
           OR NEW.status NOT IN ('reporting', 'closed') THEN
            RAISE EXCEPTION 'the report of audit % is final (% refused)', OLD.id, TG_OP
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audits_audit_report_final BEFORE UPDATE OR DELETE ON audits_audit
    FOR EACH ROW EXECUTE FUNCTION audits_audit_refuse_when_report_final();
"""

DOWN = f"""
DROP TRIGGER IF EXISTS audits_audit_report_final ON audits_audit;
DROP FUNCTION IF EXISTS audits_audit_refuse_when_report_final();
{DROP_FOLLOWER_TRIGGERS}
DROP FUNCTION IF EXISTS audits_refuse_when_report_final();
"""


def _run(sql: str) -> Any:
    def apply(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("audits", "0002_audit_report")]

    operations = [
        refuse_update_and_delete(
            "audits_auditreport",
            function="audits_auditreport_immutable",
            triggers="audits_auditreport",
            raise_statement=(
                "RAISE EXCEPTION 'the final report of audit % is immutable (% refused)', OLD.audit_id, TG_OP\n"
                "        USING ERRCODE = 'restrict_violation',\n"
                "              HINT = 'A finalised audit report is kept as it was finalised.';"
            ),
        ),
        migrations.RunPython(_run(UP), _run(DOWN)),
    ]
