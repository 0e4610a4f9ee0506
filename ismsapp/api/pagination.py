"""API pagination: page numbers for small lists, cursors for append-only logs."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class SeqCursorPagination(CursorPagination):
    """Newest first by ``seq``; no COUNT(*) and no OFFSET, whatever the size of the log."""

    ordering = "-seq"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
