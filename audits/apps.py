from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Internal audits, nonconformities and corrective actions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audits import panels, reports
        from audits.views.common import REGISTER_READERS
        from ismsapp import navigation
        from ismsapp.navigation import NavItem

        for item in (
            NavItem("Audits", "audits:programmes", "audits.view_auditprogramme", section="audits:programme"),
            NavItem("Nonconformities", "audits:register", REGISTER_READERS, section="audits:register"),
            NavItem("My actions", "audits:my_actions", None, section="audits:my_actions"),
        ):
            navigation.register(item, before="audit_trail")
        panels.register_panels()
        reports.register_reports()

        from audits.soa import add_audit_findings, register_risk_section
        from controls.soa import register_enricher

        register_enricher(add_audit_findings)
        register_risk_section()
