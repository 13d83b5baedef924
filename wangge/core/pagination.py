from rest_framework.pagination import CursorPagination


class CodeCursorPagination(CursorPagination):
    """Cursor pagination: stable and fast on large lists. Models order by their primary key unless a view says."""

    ordering = "pk"
    page_size_query_param = "page_size"
    max_page_size = 1000
