"""Admin for the audit log, and the mixins every app's admin builds on."""

from datetime import datetime, timedelta

from allauth.account import admin as allauth_account_admin  # noqa: F401 - registers first
from allauth.account.models import EmailAddress
from celery.schedules import ParseException
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import admin as auth_admin  # noqa: F401 - registers Group first
from django.contrib.auth.models import Group
from django.core.exceptions import BadRequest, EmptyResultSet, ValidationError
from django.db.models.constants import LOOKUP_SEP
from django.http import QueryDict
from django.utils.text import Truncator
from django_celery_beat import admin as celery_beat_admin  # noqa: F401 - registers its models first
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from core.models import AuditEntry

# PostgreSQL compiles the pattern only when the query runs, so a bad one ("(") is a 500; and a
# pathological one can keep a table scan busy. No admin link or filter produces these.
REFUSED_LOOKUPS = frozenset({"regex", "iregex"})


def drill_down_bounds(year: int, month: int | None, day: int | None) -> tuple[datetime, datetime]:
    """The [start, end) range ChangeList.get_filters (Django 5.2) builds for a date drill-down.

    Raises ValueError or OverflowError where Django would: a month or day out of range, or an
    end past 9999-12-31. Naive on purpose: only the calendar is checked here.
    """
    start = datetime(year, 1 if month is None else month, 1 if day is None else day)  # noqa: DTZ001
    if day is not None:
        return start, start + timedelta(days=1)
    if month is not None:
        # start is the first of a month, so 32 days later is always in the next one.
        return start, (start + timedelta(days=32)).replace(day=1)
    return start, start.replace(year=year + 1)


def check_date_hierarchy(query: QueryDict, field: str) -> None:
    """Raise BadRequest unless the date drill-down in the query names a real day, month or year.

    Django turns a malformed number in the drill-down into IncorrectLookupParameters, but the end
    of the range it then computes overflows past 9999-12-31 outside its try block: a 500 for
    ?created_at__year=9999. Month or day without a year are plain ORM lookups to Django; they
    are held to the same ranges so that a drill-down is valid or refused as a whole.
    """
    parts: dict[str, int] = {}
    for part in ("year", "month", "day"):
        name = f"{field}{LOOKUP_SEP}{part}"
        values = query.getlist(name)
        if not values:
            continue
        if len(values) > 1:
            raise BadRequest(f"Give {name} at most once.")
        try:
            parts[part] = int(values[0])
        except ValueError:
            raise BadRequest(f"{name} must be a whole number.") from None
    if not parts:
        return
    try:
        # Without a year, 2000 (a leap year) stands in so that February 29 passes.
        drill_down_bounds(parts.get("year", 2000), parts.get("month"), parts.get("day"))
    except (ValueError, OverflowError):
        raise BadRequest(f"The {field} drill-down is not a date the calendar has.") from None


class SafeChangeList(ChangeList):
    """A changelist whose lookups fail as bad parameters, not as 500s, when the SQL is built.

    Django turns errors raised by queryset.filter() into IncorrectLookupParameters (a redirect
    to ?e=1), but some lookups only fail when the SQL is compiled, e.g. ?updated_at__year=10000
    (the year's bounds overflow). Compiling here costs no query and routes those errors the
    same way.
    """

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        try:
            queryset.query.get_compiler(using=queryset.db).as_sql()
        except EmptyResultSet:
            pass  # a valid query that matches nothing, e.g. pk__in=[]
        except (ValueError, OverflowError, TypeError) as exc:
            raise IncorrectLookupParameters(exc) from exc
        return queryset


class SafeChangeListMixin:
    """Bad changelist parameters answer 400 (or Django's ?e=1 redirect), never 500 (issue 6).

    Every ModelAdmin in the project uses it, and so do the third-party admins re-registered at
    the bottom of this module. NUL bytes are refused earlier, site-wide, by
    config.middleware.RejectNulBytesMiddleware.
    """

    def get_changelist(self, request, **kwargs):
        return SafeChangeList

    def get_changelist_instance(self, request):
        if self.date_hierarchy:
            check_date_hierarchy(request.GET, self.date_hierarchy)
        return super().get_changelist_instance(request)

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # False makes Django raise DisallowedModelAdminLookup, a 400.
        parts = lookup.split(LOOKUP_SEP)
        if len(parts) > 1 and parts[-1] in REFUSED_LOOKUPS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def response_action(self, request, queryset):
        # Django filters pk__in=<the posted ids> unchecked, so a tampered id is a ValueError.
        to_python = self.model._meta.pk.to_python
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                to_python(value)
            except ValidationError:
                raise BadRequest("A selected item is not a valid id.") from None
        return super().response_action(request, queryset)


class ReadOnlyAdminMixin:
    """View-only admin: status changes must go through the services, which write the audit log.

    Staff review workflows (admin actions calling those services) come later.
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "provider",
        "action",
        "subject_ref",
        "from_status",
        "to_status",
        "short_reason",
    )
    # Only content types that actually appear in the log, not every model in the project.
    list_filter = (
        "action",
        ("subject_type", admin.RelatedOnlyFieldListFilter),
        ("provider", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("reason", "actor__email", "provider__legal_name", "provider__dba_name")
    list_select_related = ("actor", "provider", "subject_type")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = (
        "created_at",
        "actor",
        "provider",
        "subject_ref",
        "action",
        "from_status",
        "to_status",
        "reason",
        "extra",
    )
    readonly_fields = ("created_at", "subject_ref")

    # Type and id only: resolving the GenericForeignKey would cost a query per row.
    @admin.display(description="subject", ordering="subject_type")
    def subject_ref(self, obj: AuditEntry) -> str:
        return f"{obj.subject_type.model} #{obj.subject_id}"

    @admin.display(description="reason")
    def short_reason(self, obj: AuditEntry) -> str:
        return Truncator(obj.reason).chars(80)


class SafeCrontabDisplayMixin:
    """django-celery-beat renders a posted crontab's `human_readable` while showing the form's
    errors again, and catches only ValueError: celery's ParseException ("-1") was a 500."""

    @admin.display(description="human readable")
    def human_readable(self, obj: CrontabSchedule) -> str:
        try:
            return obj.human_readable
        except (ValueError, ParseException):
            return "(not a valid schedule)"


_EXTRA_MIXINS: dict[type, tuple[type, ...]] = {CrontabSchedule: (SafeCrontabDisplayMixin,)}

# The admins that installed apps register for themselves get the same protection; the walk over
# every changelist in tests/config/test_bad_input.py holds them to it too.
for _model in (
    Group,
    EmailAddress,
    PeriodicTask,
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    SolarSchedule,
):
    _registered = type(admin.site.get_model_admin(_model))
    if not issubclass(_registered, SafeChangeListMixin):
        admin.site.unregister(_model)
        bases = (*_EXTRA_MIXINS.get(_model, ()), SafeChangeListMixin, _registered)
        admin.site.register(_model, type(_registered.__name__, bases, {}))
