from django.apps import AppConfig


class RisksConfig(AppConfig):
    name = "risks"
    verbose_name = "Risk register"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ismsapp import navigation
        from ismsapp.navigation import NavItem
        from risks import panels, reports

        navigation.register(
            NavItem("Risks", "risks:register", ("risks.view_risk", "risks.own_risk"), section="risks:"),
            before="audit_trail",
        )
        navigation.register(
            NavItem("My risks", "risks:my_risks", "risks.own_risk", section="risks:my"), before="audit_trail"
        )
        panels.register_panels()
        reports.register_reports()

        from controls.soa import register_enricher
        from risks.soa import add_treated_risks

        register_enricher(add_treated_risks)
