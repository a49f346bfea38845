"""Which access a tool needs (read, write or delete), guessed from the verb in its API key.

Keys look like `google-calendar_events_list`, `github_repos_delete` or `slack_chat_postMessage`:
the connector slug, then resource and verb parts joined by `_`. The verb is the first word of the
last part (`postMessage` → `post`). A key with no known verb is classified `write`: a tool wrongly
taken for a read would slip past every policy written for writes.
"""

from __future__ import annotations

import re

READ = "read"
WRITE = "write"
DELETE = "delete"

READ_VERBS = frozenset(
    {
        "list", "get", "search", "read", "find", "query", "fetch", "view", "download", "export",
        "lookup", "show", "describe", "count", "check", "watch", "preview", "retrieve", "browse",
        "history", "info", "status", "whoami", "me", "scan", "diff", "compare",
    }
)  # fmt: skip
WRITE_VERBS = frozenset(
    {
        "create", "update", "send", "post", "add", "edit", "patch", "set", "move", "upload",
        "invite", "reply", "comment", "merge", "put", "insert", "write", "modify", "copy",
        "share", "assign", "transition", "close", "reopen", "open", "import", "publish",
        "schedule", "rename", "star", "unstar", "label", "mark", "react", "pin", "unpin",
        "forward", "draft", "approve", "submit", "convert", "restore", "join", "leave",
        "kick", "fork", "lock", "unlock", "run", "trigger", "dispatch", "upsert", "attach",
        "link", "unlink", "log", "start", "stop", "sync", "respond", "accept", "decline",
        "replace",
    }
)  # fmt: skip
DELETE_VERBS = frozenset(
    {
        "delete", "remove", "archive", "destroy", "purge", "cancel", "revoke", "trash", "erase",
        "clear", "drop", "wipe", "uninstall", "unshare", "unsubscribe", "deactivate", "disable",
        "empty", "expunge", "discard", "terminate",
    }
)  # fmt: skip

# Words that qualify the verb after them: `batchGet` is a get, `quickAdd` an add.
MODIFIERS = frozenset({"batch", "bulk", "quick", "multi"})

_WORD = re.compile(r"[a-z]+|[A-Z][a-z]*")


def verb_of(part: str) -> str:
    """The verb of one key part, lower-cased: `postMessage` → `post`, `batchGet` → `get`."""
    words = [word.lower() for word in _WORD.findall(part)]
    while len(words) > 1 and words[0] in MODIFIERS:
        words.pop(0)
    return words[0] if words else ""


def classify_verb(verb: str) -> str | None:
    """The access of a known verb, or None."""
    if verb in DELETE_VERBS:
        return DELETE
    if verb in WRITE_VERBS:
        return WRITE
    if verb in READ_VERBS:
        return READ
    return None


def classify_tool(key: str) -> str:
    """The access a tool key needs: read, write or delete; `write` when its verb is unknown.

    - Only the last part is taken as the verb: earlier parts name resources, and a resource that
      reads like a verb (`status`, `history`) must never make an unknown operation a read.
    """
    parts = [part for part in key.split("_") if part]
    if len(parts) < 2:
        return WRITE
    return classify_verb(verb_of(parts[-1])) or WRITE
