"""The floor's view: the same body parsed, one row read by key, one row inserted, JSON out."""

import hashlib
import json
from datetime import UTC, datetime

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

READ_KEY = "SELECT id, name, key_hash FROM gateways_apikey WHERE prefix = %s AND revoked_at IS NULL"
INSERT_LOG = (
    "INSERT INTO policies_decisionlog (created_at, api_key_name, user_ref, person_id, agent, "
    "connector_id, connector_slug, tools, tool_decisions, decision, reason_code, policy_ids, "
    "request_public_id) VALUES (%s, %s, %s, NULL, '', NULL, %s, %s, %s, 'allow', 'floor', "
    "'[]', NULL)"
)


@csrf_exempt
def decide(request: HttpRequest) -> HttpResponse:
    """Parse the call, find the key, log one line, answer as the API answers an allowed call."""
    body = json.loads(request.body)
    raw = request.headers.get("Authorization", "").removeprefix("Bearer ")
    parts = raw.split("_", 2)
    with connection.cursor() as cursor:
        cursor.execute(READ_KEY, [parts[1] if len(parts) == 3 else ""])
        row = cursor.fetchone()
        if row is None or hashlib.sha256(raw.encode()).hexdigest() != row[2]:
            return JsonResponse({"error": "unauthorized"}, status=401)
        tools = [{"tool": t, "decision": "allow", "policy_id": None} for t in body["tools"]]
        cursor.execute(
            INSERT_LOG,
            [
                datetime.now(UTC),
                row[1],
                body["user"],
                body["connector"],
                json.dumps(body["tools"]),
                json.dumps(tools),
            ],
        )
    return JsonResponse(
        {"decision": "allow", "reason_code": "floor", "reason": "", "tools": tools, "request": None}
    )
