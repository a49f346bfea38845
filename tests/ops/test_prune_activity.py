"""`manage.py prune_activity`: export first, delete old activity, audit rows only when asked."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.db import DatabaseError, transaction
from django.utils import timezone

from approval_flows.models import Notification
from audit.models import AuditEntry
from gateways.services import api_key_create
from policies.models import DecisionLog
from requests_app.models import RequestEvent, WebhookDelivery

OLD = timedelta(days=120)


def decision_log(age: timedelta, **fields) -> DecisionLog:
    return DecisionLog.objects.create(
        created_at=timezone.now() - age,
        user_ref="ana@example.com",
        connector_slug="google-calendar",
        tools=["google-calendar_events_list"],
        tool_decisions=[],
        decision="allow",
        reason_code="allowed",
        **fields,
    )


def notification(age: timedelta, status: str) -> Notification:
    row = Notification.objects.create(
        address=f"{status}-{age.days}@example.com",
        channel=Notification.Channel.EMAIL,
        occasion=Notification.Occasion.TEST,
        body_text="hello",
        status=status,
    )
    Notification.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def delivery(access_request, age: timedelta, status: str) -> WebhookDelivery:
    key = api_key_create(name=f"gw-{status}-{age.days}").api_key
    row = WebhookDelivery.objects.create(
        api_key=key, request=access_request, url="https://gw.example.com/hook", payload={}
    )
    WebhookDelivery.objects.filter(pk=row.pk).update(status=status, created_at=timezone.now() - age)
    return row


def old_audit_rows(access_request) -> tuple[AuditEntry, RequestEvent]:
    entry = AuditEntry.objects.create(
        created_at=timezone.now() - OLD,
        action=AuditEntry.Action.CREATED,
        object_type="policy",
        object_id="1",
        object_repr="Old policy",
    )
    event = RequestEvent.objects.create(
        request=access_request,
        kind=RequestEvent.Kind.NOTIFIED,
        channel="system",
        message="old",
        created_at=timezone.now() - OLD,
    )
    return entry, event


@pytest.fixture
def activity(access_request):
    """Old and recent rows of every kind; only the old finished ones may go."""
    return {
        "old_log": decision_log(OLD),
        "new_log": decision_log(timedelta(days=2)),
        "old_sent": notification(OLD, Notification.Status.SENT),
        "old_failed": notification(OLD, Notification.Status.FAILED),
        "old_pending": notification(OLD, Notification.Status.PENDING),
        "new_sent": notification(timedelta(days=2), Notification.Status.SENT),
        "old_delivered": delivery(access_request, OLD, WebhookDelivery.Status.DELIVERED),
        "old_waiting": delivery(access_request, OLD, WebhookDelivery.Status.PENDING),
    }


def prune(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("prune_activity", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def exported(path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def test_dry_run_counts_and_changes_nothing(activity, tmp_path):
    before = (DecisionLog.objects.count(), Notification.objects.count())

    out, _ = prune("--older-than", "90", "--dry-run", "--export", str(tmp_path / "x.jsonl"))

    assert "Dry run: nothing was changed" in out
    assert "decision_logs                1 would go" in out
    assert "notifications                2 would go" in out
    assert "webhook_deliveries           1 would go" in out
    assert "audit_entries" not in out
    assert (DecisionLog.objects.count(), Notification.objects.count()) == before
    assert not (tmp_path / "x.jsonl").exists()


def test_refuses_without_an_export_and_deletes_nothing(activity):
    with pytest.raises(CommandError, match="--export FILE is required"):
        prune("--older-than", "90")

    assert DecisionLog.objects.filter(pk=activity["old_log"].pk).exists()


@pytest.mark.parametrize("days", ["0", "-3"])
def test_refuses_a_silly_age(activity, tmp_path, days):
    with pytest.raises(CommandError, match="at least 1"):
        prune("--older-than", days, "--export", str(tmp_path / "x.jsonl"))


def test_refuses_an_export_in_a_missing_folder(activity, tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        prune("--older-than", "90", "--export", str(tmp_path / "nowhere" / "x.jsonl"))

    assert DecisionLog.objects.filter(pk=activity["old_log"].pk).exists()


@pytest.mark.parametrize("name", ["activity.jsonl", "activity.jsonl.gz"])
def test_exports_then_deletes_only_old_finished_rows(activity, tmp_path, name):
    export = tmp_path / name

    out, err = prune("--older-than", "90", "--export", str(export), "--batch", "1")

    lines = exported(export)
    assert sorted((line["table"], line["row"]["id"]) for line in lines) == sorted(
        [
            ("policies.decisionlog", activity["old_log"].pk),
            ("approval_flows.notification", activity["old_sent"].pk),
            ("approval_flows.notification", activity["old_failed"].pk),
            ("requests_app.webhookdelivery", activity["old_delivered"].pk),
        ]
    )
    log_line = next(line for line in lines if line["table"] == "policies.decisionlog")
    assert log_line["row"]["user_ref"] == "ana@example.com"
    kept = ("new_log", "old_pending", "new_sent", "old_waiting")
    for key in kept:
        assert type(activity[key]).objects.filter(pk=activity[key].pk).exists(), key
    assert not DecisionLog.objects.filter(pk=activity["old_log"].pk).exists()
    assert "decision_logs                1 deleted" in out
    assert "Pruning" in err  # the progress bar


def test_a_second_run_finds_nothing_and_appends_to_the_export(activity, tmp_path):
    export = tmp_path / "activity.jsonl"
    prune("--older-than", "90", "--export", str(export))
    first = export.read_text()

    out, _ = prune("--older-than", "90", "--export", str(export))

    assert "decision_logs                0 deleted" in out
    assert export.read_text() == first


def test_audit_rows_stay_without_the_flag(activity, access_request, tmp_path):
    entry, event = old_audit_rows(access_request)

    prune("--older-than", "90", "--export", str(tmp_path / "a.jsonl"))

    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert RequestEvent.objects.filter(pk=event.pk).exists()


def test_include_audit_exports_deletes_and_records_the_prune(activity, access_request, tmp_path):
    entry, event = old_audit_rows(access_request)
    recent_events = RequestEvent.objects.exclude(pk=event.pk).count()
    export = tmp_path / "audit.jsonl.gz"

    out, _ = prune("--older-than", "90", "--export", str(export), "--include-audit")

    tables = {(line["table"], line["row"]["id"]) for line in exported(export)}
    assert {("audit.auditentry", entry.pk), ("requests_app.requestevent", event.pk)} <= tables
    assert not AuditEntry.objects.filter(pk=entry.pk).exists()
    assert not RequestEvent.objects.filter(pk=event.pk).exists()
    assert RequestEvent.objects.count() == recent_events
    record = AuditEntry.objects.get(object_type="activity")
    assert record.channel == "cli"
    assert record.after["deleted"]["audit_entries"] == 1
    assert record.after["export"] == str(export)
    assert "audit_entries                1 deleted" in out


def test_audit_rows_stay_append_only_outside_the_prune(access_request):
    entry, event = old_audit_rows(access_request)

    for statement in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        lambda: RequestEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(object_repr="changed"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()


def test_the_prune_switch_never_allows_an_update(access_request):
    entry, _event = old_audit_rows(access_request)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL agenwork.prune_audit = 'on'")
        AuditEntry.objects.filter(pk=entry.pk).update(object_repr="changed")


def test_help_explains_the_export_and_the_audit_rule():
    command = load_command_class("ops", "prune_activity")

    text = command.create_parser("manage.py", "prune_activity").format_help()

    assert "--older-than DAYS" in text and "--export FILE" in text and "--dry-run" in text
    assert "append-only" in text and "--include-audit" in text
