"""Input cleaning: one mechanism for every text that comes in.

Refused, with the field named, wherever text enters the application:

- control characters: C0 (U+0000-U+001F, tab, line feed and carriage return allowed only where a
  field takes multi-line text), DEL (U+007F), C1 (U+0080-U+009F) and lone surrogates
  (U+D800-U+DFFF). PostgreSQL cannot store NUL, spreadsheets cannot hold most C0 characters, and
  none of them belongs in a title, a note or a filter.
- dates outside ``settings.INPUT_DATE_MIN_YEAR``..``INPUT_DATE_MAX_YEAR`` (1900-2200 by default),
  and datetimes whose UTC offset is outside -24 h..+24 h;
- API ids of the wrong shape: the API router (``ismsapp/api/urls.py``) matches detail routes
  with Django's ``int``/``uuid`` path converters, so ``/api/risks/abc/accept/`` is a 404; ids in
  query parameters and form fields go through model choice fields (an invalid choice);
- JSON nested deeper than ``settings.INPUT_MAX_JSON_DEPTH`` (32 by default), checked on the raw
  bytes before any parser recurses.

Where it is applied (``install()`` runs first in ``IsmsAppConfig.ready``):

- query parameters of every request, and the JSON depth of every JSON body up to the in-memory
  upload limit: ``InputCleaningMiddleware`` answers 400 naming the parameter;
- Django forms: every ``forms.CharField`` (and each subclass that does not declare its own
  ``default_validators``, as ``EmailField`` and ``URLField`` do) carries
  ``ControlCharacterValidator``, allowing tab and line breaks only in a text area; every
  ``forms.DateField``/``DateTimeField`` carries ``DateRangeValidator``; so a form shows the error
  next to the field and keeps what was typed;
- the API: the default DRF parsers (``CleanJSONParser``, ``CleanFormParser``,
  ``CleanMultiPartParser``) refuse deep JSON and control characters anywhere in the parsed data
  (400 naming the field path, e.g. ``"scale.2.label"``); DRF date fields carry the date range;
- imports: ``risks/services/imports.py`` checks every cell with ``control_character_problem``;
- ``evidence.ingestion.create_job`` checks the filename of an upload or push before it stores a
  byte (the push's ``?filename=`` is refused earlier still, by the middleware).

On the way out, ``ismsapp.exports.spreadsheet_cell`` replaces what a spreadsheet cannot hold, so
data stored before these checks still exports.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.deconstruct import deconstructible
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.utils import json as drf_json

SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_UTC_OFFSET = dt.timedelta(hours=24)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def min_year() -> int:
    return _setting("INPUT_DATE_MIN_YEAR", 1900)


def max_year() -> int:
    return _setting("INPUT_DATE_MAX_YEAR", 2200)


def max_json_depth() -> int:
    return _setting("INPUT_MAX_JSON_DEPTH", 32)


# --- control characters -------------------------------------------------------------------------


def control_character_problem(text: str, *, multiline: bool = False) -> str | None:
    """What is wrong with ``text`` (the first control character and where), or None."""
    found = (MULTI_LINE if multiline else SINGLE_LINE).search(text)
    if found is None:
        return None
    return f"contains a control character (U+{ord(found.group()):04X}) at position {found.start()}"


def refuse_control_characters(text: str, field: str, *, multiline: bool = False) -> None:
    """Raise ``ValidationError({field: ...})`` when ``text`` holds a control character."""
    problem = control_character_problem(text, multiline=multiline)
    if problem:
        raise ValidationError({field: [problem]})


@deconstructible
class ControlCharacterValidator:
    """Form-field validator; tab, line feed and carriage return pass (a textarea may hold them)."""

    def __init__(self, *, multiline: bool = True) -> None:
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        if isinstance(value, str):
            problem = control_character_problem(value, multiline=self.multiline)
            if problem:
                raise ValidationError(problem[:1].upper() + problem[1:] + ".", code="control_character")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlCharacterValidator) and other.multiline == self.multiline


def data_problems(data: Any, *, multiline: bool = True, limit: int = 20) -> dict[str, list[str]]:
    """Control characters anywhere in parsed data (dicts, lists, strings; keys too), by field path
    (``"title"``, ``"scale.2.label"``). Walks without recursion, so any depth is safe."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", data)]
    while stack and len(problems) < limit:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = control_character_problem(value, multiline=multiline)
            if problem:
                problems[path or "non_field_errors"] = [problem]
        elif isinstance(value, dict) or hasattr(value, "lists"):
            items = value.lists() if hasattr(value, "lists") else value.items()
            for key, item in items:
                key_text = str(key)
                problem = control_character_problem(key_text)
                if problem:
                    problems[f"{path}.{key_text!r}" if path else repr(key_text)] = [f"field name {problem}"]
                    continue
                stack.append((f"{path}.{key_text}" if path else key_text, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))
    return problems


# --- dates --------------------------------------------------------------------------------------


def date_problem(value: Any) -> str | None:
    """Year outside the accepted range, or a UTC offset beyond a day: what is wrong, or None."""
    if not isinstance(value, dt.date):
        return None
    low, high = min_year(), max_year()
    if not low <= value.year <= high:
        return f"year {value.year} is outside {low}-{high}"
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        offset = value.utcoffset()
        assert offset is not None
        if abs(offset) >= MAX_UTC_OFFSET:
            return "time-zone offset is outside -24:00..+24:00"
    return None


@deconstructible
class DateRangeValidator:
    def __call__(self, value: Any) -> None:
        problem = date_problem(value)
        if problem:
            raise ValidationError(problem[:1].upper() + problem[1:] + ".", code="date_range")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateRangeValidator)


_ISO_DATETIME_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[T ][\d:.]+([+-])(\d{2}):?(\d{2})$")


def datetime_text_problem(text: str) -> str | None:
    """An ISO datetime text whose offset Python cannot represent (``+99:00``) fails deep inside
    the parser with an unhelpful error; say what it is instead. Other texts pass."""
    found = _ISO_DATETIME_OFFSET.match(text.strip())
    if found and dt.timedelta(hours=int(found.group(2)), minutes=int(found.group(3))) >= MAX_UTC_OFFSET:
        return "time-zone offset is outside -24:00..+24:00"
    return None


# --- JSON nesting -------------------------------------------------------------------------------


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when the JSON text ``raw`` nests arrays/objects deeper than ``limit``: one pass over the
    bytes outside strings, no recursion and no allocation (so a hostile body costs nothing)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


# --- application: middleware ---------------------------------------------------------------------


def _refusal(request: HttpRequest, problems: dict[str, list[str]]) -> HttpResponse:
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return JsonResponse(problems, status=400)
    return render(request, "errors/400.html", {"problems": problems}, status=400)


def query_problems(request: HttpRequest) -> dict[str, list[str]]:
    """Query parameters (names and values) holding control characters or impossible offsets."""
    problems: dict[str, list[str]] = {}
    for name, values in request.GET.lists():
        problem = control_character_problem(name)
        if problem:
            problems[repr(name)] = [f"parameter name {problem}"]
            continue
        for value in values:
            problem = control_character_problem(value) or datetime_text_problem(value)
            if problem:
                problems[name] = [problem]
                break
    return problems


# Request headers the application keeps (the lockout's and the sessions' records): what a client put
# there is not refused (it says nothing about what the user asked for) but cannot reach the database.
STORED_HEADERS = ("HTTP_USER_AGENT",)


def clean_stored_headers(request: HttpRequest) -> None:
    """Control characters in the headers that are stored become U+FFFD (PostgreSQL refuses NUL)."""
    for name in STORED_HEADERS:
        value = request.META.get(name)
        if value and SINGLE_LINE.search(value):
            request.META[name] = SINGLE_LINE.sub("\ufffd", value)


class InputCleaningMiddleware:
    """Refuses (400, parameter named) query parameters with control characters, and JSON bodies
    nested deeper than ``INPUT_MAX_JSON_DEPTH``, before any view or parser sees them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clean_stored_headers(request)
        problems = query_problems(request)
        json_body = not problems and _is_json(request.content_type or "") and self._small(request)
        if json_body and json_depth_exceeds(request.body, max_json_depth()):
            problems = {"non_field_errors": [f"JSON nested deeper than {max_json_depth()} levels."]}
        if problems:
            return _refusal(request, problems)
        return self.get_response(request)

    @staticmethod
    def _small(request: HttpRequest) -> bool:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        return 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# --- application: DRF parsers -------------------------------------------------------------------


def _refuse_problems(data: Any) -> Any:
    problems = data_problems(data)
    if problems:
        raise ApiValidationError(problems)
    return data


class CleanJSONParser(parsers.JSONParser):
    """JSON with its depth bounded before parsing, then no control characters in any string
    (tab, line feed and carriage return allowed: text fields may be multi-line)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if json_depth_exceeds(raw, max_json_depth()):
            raise ParseError(f"JSON nested deeper than {max_json_depth()} levels.")
        parse_constant = drf_json.strict_constant if self.strict else None
        try:
            text = raw.decode((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
            data = drf_json.loads(text, parse_constant=parse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        return _refuse_problems(data)


class CleanFormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return _refuse_problems(super().parse(stream, media_type, parser_context))


class CleanMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _refuse_problems(result.data)
        return result


# --- installation -------------------------------------------------------------------------------


class _TextFieldValidators:
    """``forms.CharField.default_validators``: the control-character check, allowing tab and line
    breaks only when the field is shown as a text area (Django binds the widget to the field just
    before it reads its default validators)."""

    def __get__(self, field: forms.CharField | None, owner: type) -> list[Any]:
        multiline = field is None or isinstance(getattr(field, "widget", None), forms.Textarea)
        return [ControlCharacterValidator(multiline=multiline)]


def _with(validators: list[Any], extra: Any) -> list[Any]:
    return [*validators, extra] if extra not in validators else list(validators)


def install() -> None:
    """Attach the validators to the base field classes (before any form class is defined)."""
    if not isinstance(forms.CharField.__dict__.get("default_validators"), _TextFieldValidators):
        forms.CharField.default_validators = _TextFieldValidators()  # type: ignore[assignment]
    for field_class in (forms.DateField, forms.DateTimeField, serializers.DateField, serializers.DateTimeField):
        field_class.default_validators = _with(field_class.default_validators, DateRangeValidator())


def iter_field_errors(error: ValidationError) -> Iterator[tuple[str | None, list[str]]]:
    """(field or None, messages) pairs of a Django ``ValidationError``."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            yield (None if field == "__all__" else field), messages
    else:
        yield None, error.messages
