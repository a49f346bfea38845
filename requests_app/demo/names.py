"""Word lists the demo generator draws from: names, customers, agents and comments."""

from __future__ import annotations

# The canonical people (Ana, Ben, Dana, Lee) are left out so a generated name never reads like one.
FIRST_NAMES = (
    "Aaliyah", "Adam", "Aisha", "Alejandro", "Amara", "Andrei", "Anika", "Arjun", "Beatriz",
    "Benedikt", "Camila", "Carlos", "Chen", "Chloé", "Daniel", "Diego", "Elena", "Emma", "Farah",
    "Felix", "Gabriel", "Grace", "Hana", "Hugo", "Ibrahim", "Ines", "Isabel", "Jamal", "Jonas",
    "José", "Julia", "Kai", "Kenji", "Laila", "Leo", "Lucía", "Maya", "Mateo", "Mei", "Mohammed",
    "Nadia", "Nikhil", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Renée", "Rohan", "Sara",
    "Sofia", "Tariq", "Tomás", "Valentina", "Victor", "Wei", "Yara", "Yusuf", "Zoë", "Zoltan",
    "Marcus", "Ingrid", "Kofi", "Aiko",
)  # fmt: skip

LAST_NAMES = (
    "Abbott", "Adeyemi", "Andersson", "Bauer", "Becker", "Brennan", "Castillo", "Chen", "Costa",
    "Dubois", "Eriksen", "Fernandes", "Fischer", "García", "Gonzalez", "Gupta", "Haddad", "Hansen",
    "Hernandez", "Ito", "Jensen", "Johnson", "Kaur", "Khan", "Kowalski", "Kumar", "Larsen",
    "Martin", "Mendes", "Meyer", "Moreau", "Müller", "Nakamura", "Nguyen", "Novak", "Núñez",
    "O'Brien", "Okafor", "Olsen", "Patel", "Pereira", "Petrov", "Quinn", "Rahman", "Reyes", "Rossi",
    "Sato", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Torres", "Varga", "Wagner",
    "Walsh", "Weber", "Williams", "Wong", "Yamamoto", "Yilmaz", "Zhang", "Ziegler",
)  # fmt: skip

CUSTOMERS = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Soylent", "Vandelay", "Cyberdyne", "Tyrell", "Wonka", "Massive Dynamic", "Aperture",
)  # fmt: skip

REPOS = (
    "billing-service", "web-frontend", "mobile-app", "infra", "data-pipeline", "docs",
    "auth-gateway", "search-indexer", "design-system", "release-tools",
)  # fmt: skip

CHANNELS = ("#sales", "#eng-standup", "#incidents", "#general", "#customer-success", "#release")

# The agents that ask, per connector ("" for any other connector).
AGENTS: dict[str, tuple[str, ...]] = {
    "google-calendar": ("Claude", "ChatGPT", "Copilot", "Gemini", "Sales assistant"),
    "github": ("Claude", "ChatGPT", "Copilot", "Gemini", "Sales assistant"),
    "slack": ("Claude", "ChatGPT", "Copilot", "Release bot"),
    "": ("Claude", "ChatGPT", "Copilot", "Gemini"),
}

DENY_COMMENTS = (
    "Please use the shared team calendar for this.",
    "Not during the quarter close.",
    "Ask your manager first.",
    "This repository is frozen until the audit ends.",
    "Too broad: ask for the single tool you need.",
    "Duplicate of an earlier request.",
)

APPROVE_COMMENTS = (
    "OK for this customer.",
    "Approved for this week only.",
    "Fine, the calendar is yours.",
    "Go ahead.",
)

# Actor names as the services write them: the sweep, the timeout, a gateway's API key.
SYSTEM_ACTOR = "agenwork"
TIMEOUT_ACTOR = "Timeout"
GATEWAY_ACTOR = "Gateway demo"
