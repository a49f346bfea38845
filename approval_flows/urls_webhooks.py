"""Webhooks Twilio calls, mounted at /webhooks/twilio/ (no login, Twilio's signature instead)."""

from __future__ import annotations

from django.urls import path

from approval_flows.webhooks import twilio_status
from requests_app.sms_replies import twilio_sms

app_name = "twilio_webhooks"
urlpatterns = [
    path("status", twilio_status, name="twilio_status"),
    path("sms", twilio_sms, name="twilio_sms"),
]
