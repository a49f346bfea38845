"""`manage.py send_test_notification --to ADDRESS`: send one test email or SMS right now."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db.models import Max

from approval_flows.models import Notification
from approval_flows.notifications import (
    notification_abandon,
    notification_queue,
    notification_send,
)
from approval_flows.transports import is_e164, twilio_configured
from directory.models import Person

SUBJECT = "agenwork test message"
TEXT = "This is a test message from agenwork. If you can read it, {channel} notifications work."
HTML = "<p>This is a test message from <strong>agenwork</strong>. {channel} notifications work.</p>"
SEQUENCE_LIMIT = 32767  # PositiveSmallIntegerField


class Command(BaseCommand):
    help = "Send a test notification now to an email address or an E.164 phone number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, help="an email address or +E.164 number")
        parser.add_argument(
            "--dry-run", action="store_true", help="say how the message would go; send nothing"
        )

    def handle(self, *args: Any, to: str, **options: Any) -> None:
        channel = channel_for(to.strip())
        if options.get("dry_run"):
            self.stdout.write(f"Dry run: nothing was sent. {route_line(to.strip(), channel)}")
            return
        notification = queue_test(to.strip(), channel)
        outcome = notification_send(notification_id=notification.pk)
        notification.refresh_from_db()
        if outcome == Notification.Status.SENT:
            self.stdout.write(self.style.SUCCESS(sent_line(notification)))
            return
        if outcome == Notification.Status.PENDING:
            # A test is not worth a retry hours later: report it and stop here.
            notification_abandon(notification_id=notification.pk, reason=notification.last_error)
            raise CommandError(f"Temporary failure, not retried: {notification.last_error}")
        raise CommandError(f"Failed: {notification.last_error or outcome}")


def channel_for(address: str) -> str:
    """Email or SMS from the address; CommandError when it is neither."""
    if is_e164(address):
        return Notification.Channel.SMS
    try:
        validate_email(address)
    except ValidationError:
        raise CommandError(
            f"{address!r} is neither an email address nor an E.164 phone number (+15550100)"
        ) from None
    return Notification.Channel.EMAIL


def queue_test(address: str, channel: str) -> Notification:
    """Queue a test message with a fresh sequence, to be sent by this command."""
    field = "email__iexact" if channel == Notification.Channel.EMAIL else "phone"
    person = Person.objects.filter(**{field: address}).first()
    last = Notification.objects.filter(
        occasion=Notification.Occasion.TEST, address=address
    ).aggregate(last=Max("sequence"))["last"]
    label = "Email" if channel == Notification.Channel.EMAIL else "SMS"
    notification = notification_queue(
        request_public_id=None,
        recipient=person,
        address=address,
        channel=channel,
        occasion=Notification.Occasion.TEST,
        sequence=((last or 0) % SEQUENCE_LIMIT) + 1,
        subject=SUBJECT,
        body_text=TEXT.format(channel=label),
        body_html=HTML.format(channel=label) if channel == Notification.Channel.EMAIL else "",
        enqueue=False,
    )
    if notification is None:  # only a concurrent test to the same address can get here
        raise CommandError("Another test message to this address is being queued; try again")
    return notification


def route_line(address: str, channel: str) -> str:
    """Where a test message to `address` would go with the current settings."""
    if channel == Notification.Channel.SMS:
        how = "through Twilio" if twilio_configured() else "to the agenwork.sms log (no Twilio)"
        return f"An SMS to {address} would go {how}."
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        return f"An email to {address} would be written to {settings.EMAIL_FILE_PATH} (no SMTP)."
    if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        return f"An email to {address} would go to {settings.EMAIL_HOST}:{settings.EMAIL_PORT}."
    return f"An email to {address} would go through {settings.EMAIL_BACKEND}."


def sent_line(notification: Notification) -> str:
    """The one-line success report."""
    if notification.channel == Notification.Channel.SMS and not twilio_configured():
        return f"SMS to {notification.address} written to the agenwork.sms log (no Twilio)."
    if notification.channel == Notification.Channel.EMAIL and settings.EMAIL_BACKEND.endswith(
        "filebased.EmailBackend"
    ):
        return f"Email to {notification.address} written to {settings.EMAIL_FILE_PATH} (no SMTP)."
    kind = "Email" if notification.channel == Notification.Channel.EMAIL else "SMS"
    return f"{kind} sent to {notification.address} (provider id {notification.provider_id})."
