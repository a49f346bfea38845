"""Word lists the demo generator draws from: names, notes, agents and comments."""

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

NOTES: dict[str, tuple[str, ...]] = {
    "google-calendar": (
        "Book the quarterly business review with {customer} next week.",
        "Move the {customer} renewal call to Thursday afternoon.",
        "Schedule a product demo for {customer} and invite their IT lead.",
        "Set up the weekly pipeline review with the sales team.",
        "Reschedule my 1:1s around the offsite.",
        "Find a slot for the {customer} onboarding kickoff.",
        "Clean up the duplicate events the import created last night.",
        "Add travel time before the on-site visit at {customer}.",
    ),
    "github": (
        "Open an issue in {repo} for the flaky checkout test.",
        "List the repositories I own so I can archive the stale ones.",
        "File the bugs from today's triage in {repo}.",
        "Remove the old {repo} fork we no longer use.",
        "Create a tracking issue for the {repo} release.",
        "Summarise open issues in {repo} for the sprint review.",
    ),
    "slack": (
        "Post the release notes to {channel}.",
        "Send the meeting summary to {channel}.",
        "Remind {channel} about the deadline on Friday.",
        "Delete the message I posted to the wrong channel.",
        "List the channels I belong to for the weekly digest.",
    ),
}

AGENTS = ("Claude", "ChatGPT", "Copilot", "Gemini", "Sales assistant", "Release bot")

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
