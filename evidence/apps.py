from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Machine evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from controls.soa import register_enricher
        from evidence import health, panels
        from ismsapp import navigation
        from ismsapp.navigation import NavItem

        navigation.register(
            NavItem("Evidence", "evidence:sources", "evidence.view_evidencesource", section="evidence:"),
            before="audit_trail",
        )
        register_enricher(health.add_machine_evidence)
        panels.register_panels()
