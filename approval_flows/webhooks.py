"""Twilio's status callback: the delivery status of an SMS we sent, signed by Twilio.

The signature covers the public URL Twilio called, so it is rebuilt like every link the app hands
out (SITE_URL + path), never from the Host header or scheme that a proxy may have rewritten.
A report that arrives before the sender recorded the SID (a matter of milliseconds) finds no
row and is acknowledged; Twilio sends one per status, so a later one brings the row up to date.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from approval_flows.notifications import notification_record_provider_status

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: SITE_URL, then the path and the query string."""
    return settings.SITE_URL + request.get_full_path()


def twilio_signature_valid(request: HttpRequest) -> bool:
    """True when X-Twilio-Signature signs this POST with TWILIO_AUTH_TOKEN."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return validator.validate(public_url(request), request.POST, signature)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Record the delivery status of an SMS; an unknown MessageSid changes nothing."""
    if not twilio_signature_valid(request):
        logger.warning("Twilio status callback with a bad or missing signature")
        return HttpResponseForbidden("Invalid Twilio signature")
    notification_record_provider_status(
        provider_id=request.POST.get("MessageSid", ""),
        provider_status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=200)
