"""Twilio's status callback, mounted at /webhooks/twilio/ (no login, Twilio's signature instead).

Twilio's other webhook, the SMS replies at /webhooks/twilio/sms, decides requests: requests_app
owns it, and agenwork/urls.py routes it there.
"""

from __future__ import annotations

from django.urls import path

from approval_flows.webhooks import twilio_status

app_name = "twilio_webhooks"
urlpatterns = [
    path("status", twilio_status, name="twilio_status"),
]
