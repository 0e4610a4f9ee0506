from django.apps import AppConfig


class ControlsConfig(AppConfig):
    name = "controls"
    verbose_name = "Controls and Statement of Applicability"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from controls import panels, reports
        from ismsapp import navigation
        from ismsapp.navigation import NavItem

        navigation.register(
            NavItem(
                "Statement of Applicability", "controls:soa_default", "controls.view_soaentry", section="controls:soa"
            ),
            before="audit_trail",
        )
        navigation.register(
            NavItem("Controls", "controls:catalogue", "controls.view_control", section="controls:catalogue"),
            before="audit_trail",
        )
        panels.register_panels()
        reports.register_reports()
