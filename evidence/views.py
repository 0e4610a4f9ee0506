"""Pages of machine evidence: sources, uploads and jobs, the events explorer, session recordings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from evidence import ingestion, integrity, services
from evidence.forms import EventFilterForm, SourceForm, UploadForm
from evidence.models import EvidenceSource, IngestionJob, RejectedRecord, SessionRecording
from evidence.querysets import CSV_FIELDS, CSV_HEADER, csv_row, filter_events, visible_events
from ismsapp.blobs import blob_path
from ismsapp.downloads import attachment
from ismsapp.exports import csv_lines
from ismsapp.forms import add_service_errors
from ismsapp.identity import IdentityConfirmedMixin
from ismsapp.pagination import keyset_page, parse_cursor

PAGE_SIZE = 100


def _signing_key_info() -> dict[str, Any]:
    try:
        return {"fingerprint": integrity.fingerprint(), "public_key": integrity.public_key_pem().decode()}
    except Exception as exc:  # noqa: BLE001 - shown to the admin as a configuration problem
        return {"fingerprint": "", "key_error": str(exc)}


class SourceListView(PermissionRequiredMixin, View):
    permission_required = "evidence.view_evidencesource"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render_sources(request, SourceForm())


def render_sources(request: HttpRequest, form: SourceForm, *, status: int = 200) -> HttpResponse:
    """The sources page (also shown again, with the errors, when the new-source form is refused)."""
    sources = (
        EvidenceSource.objects.for_user(request.user, "view")
        .select_related("owner")
        .annotate(events=Sum("links__count"))
    )
    now = timezone.now()
    rows = [(s, s.is_fresh(now)) for s in sources]
    return render(
        request,
        "evidence/sources.html",
        {
            "rows": rows,
            "form": form,
            "key": _signing_key_info(),
            "can_add": request.user.has_perm("evidence.add_evidencesource"),
            "can_upload": request.user.has_perm("evidence.add_ingestionjob"),
        },
        status=status,
    )


class SourceCreateView(PermissionRequiredMixin, View):
    permission_required = "evidence.add_evidencesource"
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SourceForm(request.POST)
        if form.is_valid():
            try:
                source, token = services.create_source(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return render(request, "evidence/token.html", {"source": source, "token": token}, status=201)
        return render_sources(request, form, status=400)


class SourceDetailView(PermissionRequiredMixin, View):
    permission_required = "evidence.view_evidencesource"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = get_object_or_404(EvidenceSource.objects.for_user(request.user, "view"), pk=pk)
        return render(
            request,
            "evidence/source.html",
            {
                "source": source,
                "jobs": source.jobs.order_by("-created_at")[:50],
                "checkpoints": source.checkpoints.order_by("-seq")[:10],
                "events": source.links.aggregate(n=Sum("count"))["n"] or 0,
                "key": _signing_key_info(),
                "can_change": request.user.has_perm("evidence.change_evidencesource"),
            },
        )


class RotateTokenView(PermissionRequiredMixin, IdentityConfirmedMixin, View):
    permission_required = "evidence.change_evidencesource"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = get_object_or_404(EvidenceSource, pk=pk)
        token = services.rotate_token(actor=request.user, source=source)
        return render(request, "evidence/token.html", {"source": source, "token": token, "rotated": True})


class UploadView(PermissionRequiredMixin, View):
    permission_required = "evidence.add_ingestionjob"

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"source": request.GET.get("source")} if request.GET.get("source") else None
        return render(request, "evidence/upload.html", {"form": UploadForm(initial=initial)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, "evidence/upload.html", {"form": form}, status=400)
        jobs = []
        written = form.cleaned_data["written_at"]
        for upload, written_at in zip(form.cleaned_data["files"], written, strict=True):
            try:
                jobs.append(
                    ingestion.create_job(
                        actor=request.user,
                        source=form.cleaned_data["source"],
                        fmt=form.cleaned_data["format"],
                        stream=upload,
                        filename=upload.name,
                        receiver=IngestionJob.Receiver.UPLOAD,
                        written_at=written_at,
                    )
                )
            except ValueError as exc:
                form.add_error("files", f"{upload.name}: {exc}")
                return render(request, "evidence/upload.html", {"form": form}, status=400)
        messages.success(
            request, f"{len(jobs)} file{'s' if len(jobs) != 1 else ''} received; parsing runs in the background."
        )
        if len(jobs) == 1:
            return HttpResponseRedirect(reverse("evidence:job", args=[jobs[0].pk]))
        return HttpResponseRedirect(reverse("evidence:jobs"))


class JobListView(PermissionRequiredMixin, View):
    permission_required = "evidence.view_ingestionjob"

    def get(self, request: HttpRequest) -> HttpResponse:
        jobs = IngestionJob.objects.for_user(request.user, "view").select_related("source")[:200]
        return render(request, "evidence/jobs.html", {"jobs": [(job, ingestion.job_summary(job)) for job in jobs]})


class JobView(PermissionRequiredMixin, View):
    """A job's progress (polled by htmx while it runs), its summary and its rejected records."""

    permission_required = "evidence.view_ingestionjob"

    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        job = get_object_or_404(IngestionJob.objects.for_user(request.user, "view").select_related("source"), pk=pk)
        summary = ingestion.job_summary(job)
        context = {
            "job": job,
            "summary": summary,
            "percent": round(100 * summary["chunks_done"] / max(summary["chunks"], 1)),
        }
        if request.htmx:
            return render(request, "evidence/job_progress.html", context)
        context["rejections"] = RejectedRecord.objects.filter(chunk__job=job).order_by("offset")[:200]
        return render(request, "evidence/job.html", context)


class JobRawView(PermissionRequiredMixin, View):
    """The raw bytes of a job, as received (never rendered inline)."""

    permission_required = "evidence.view_ingestionjob"

    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        job = get_object_or_404(IngestionJob.objects.for_user(request.user, "view"), pk=pk)
        handle = blob_path(job.blob_sha256).open("rb")
        return attachment(
            request,
            iter(lambda: handle.read(1024 * 1024), b""),
            filename=job.filename or "raw.log",
            content_type="application/octet-stream",
            obj=job,
            detail={"sha256": job.blob_sha256},
        )


class EventsView(PermissionRequiredMixin, View):
    """The events explorer: filters, newest first, keyset pages (no COUNT, no OFFSET)."""

    permission_required = "evidence.view_event"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = EventFilterForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        events = filter_events(visible_events(request.user).select_related("source"), data)
        page = keyset_page(events, key="id", before=parse_cursor(request.GET.get("before")), size=PAGE_SIZE)
        query = request.GET.copy()
        query.pop("before", None)
        return render(request, "evidence/events.html", {"form": form, "page": page, "filter_query": query.urlencode()})


class EventsExportView(PermissionRequiredMixin, View):
    permission_required = "evidence.view_event"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = EventFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return HttpResponse(f"Invalid filter: {form.errors.as_text()}", status=400, content_type="text/plain")
        events = filter_events(visible_events(request.user), form.cleaned_data if form.is_bound else {})
        names = dict(EvidenceSource.objects.values_list("pk", "name"))
        rows = (csv_row(event, names) for event in events.order_by("id").values(*CSV_FIELDS).iterator(chunk_size=5000))
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        return attachment(
            request,
            csv_lines(CSV_HEADER, rows),
            filename=f"events-{stamp}.csv",
            content_type="text/csv; charset=utf-8",
            detail={"filters": form.data.dict() if form.is_bound else {}},
        )


class SessionListView(PermissionRequiredMixin, View):
    permission_required = "evidence.view_sessionrecording"

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("q", "").strip()[:200]
        recordings = SessionRecording.objects.for_user(request.user, "view").select_related("source")
        if query:
            recordings = recordings.filter(
                Q(command_text__icontains=query) | Q(user__iexact=query) | Q(host__iexact=query)
            )
        return render(request, "evidence/sessions.html", {"recordings": recordings[:200], "q": query})


class SessionView(PermissionRequiredMixin, View):
    permission_required = "evidence.view_sessionrecording"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        recording = get_object_or_404(SessionRecording.objects.for_user(request.user, "view"), pk=pk)
        return render(request, "evidence/session.html", {"recording": recording})


class SessionPlaybackView(PermissionRequiredMixin, View):
    """The asciicast v2 rendition the player fetches (an attachment, never rendered inline)."""

    permission_required = "evidence.view_sessionrecording"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        recording = get_object_or_404(SessionRecording.objects.for_user(request.user, "view"), pk=pk)
        path = blob_path(recording.playback_sha256)
        if not path.exists():
            raise Http404("The recording's playback file is missing.")
        return attachment(
            request,
            path.read_bytes(),
            filename=f"session-{recording.pk}.cast",
            content_type="application/x-asciicast",
            obj=recording,
        )
