"""Machine evidence is append-only in the database itself: on PostgreSQL, UPDATE and DELETE on
events, chain links and signed checkpoints are refused by triggers (as for the audit trail), so
neither bulk queryset calls nor raw SQL can alter or remove what was ingested and signed."""

from django.db import migrations

from ismsapp.dbguards import refuse_update_and_delete


def guard(table: str, what: str) -> migrations.RunPython:
    return refuse_update_and_delete(
        table,
        function=f"{table}_append_only",
        triggers=table,
        raise_statement=(
            f"RAISE EXCEPTION '{what} are append-only (% refused)', TG_OP\n"
            "        USING ERRCODE = 'restrict_violation',\n"
            "              HINT = 'Evidence is never changed once stored; ingest again to add to it.';"
        ),
    )


class Migration(migrations.Migration):
    dependencies = [("evidence", "0007_year_plan")]

    operations = [
        guard("evidence_event", "evidence events"),
        guard("evidence_chainlink", "evidence chain links"),
        guard("evidence_checkpoint", "signed evidence checkpoints"),
    ]
