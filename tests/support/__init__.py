"""Stand-ins at the network edge, for any test package: a real SMTP server, a fake Twilio; and
what a browser without JavaScript reads of a form (`forms.py`)."""
