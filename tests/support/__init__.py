"""Stand-ins at the network edge, for any test package: a real SMTP server, a fake Twilio."""
