"""Published SoA versions are immutable in the database itself: on PostgreSQL, UPDATE and DELETE
on the version table are refused by triggers, so bulk queryset calls and raw SQL cannot alter or
remove a published snapshot (a version stores its snapshot rows in the same row, as JSON).

SQLite (the embedded development database) relies on the model and queryset guards and on the
snapshot's SHA-256, checked whenever a version is shown or exported; a trigger there would also
block ``flush`` and the test runner's clean-up (SQLite has no TRUNCATE).
"""

from django.db import migrations

from ismsapp.dbguards import refuse_update_and_delete


class Migration(migrations.Migration):
    dependencies = [("controls", "0001_initial")]

    operations = [
        refuse_update_and_delete(
            "controls_soaversion",
            function="controls_soaversion_immutable",
            triggers="controls_soaversion",
            raise_statement=(
                "RAISE EXCEPTION 'published SoA version % of edition % is immutable (% refused)', "
                "OLD.number, OLD.edition, TG_OP\n"
                "        USING ERRCODE = 'restrict_violation',\n"
                "              HINT = 'Edit the working draft and publish a new version.';"
            ),
        )
    ]
