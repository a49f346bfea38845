"""PostgreSQL as Django's backend has it, with a health check that costs no round trip."""
