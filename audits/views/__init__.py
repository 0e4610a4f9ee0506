"""Pages of the audits app, by concern: ``programmes`` (programmes, audits, reports, checklists),
``findings`` (nonconformities, corrective actions, "My actions"), ``calendar`` (the iCalendar feed);
``common`` holds what they share."""
