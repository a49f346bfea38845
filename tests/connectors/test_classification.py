"""Tool access from the verb of the tool key: read, write, delete; unknown verbs are writes."""

from __future__ import annotations

import pytest

from connectors.classification import classify_tool, verb_of

CASES = [
    # read
    ("google-calendar_events_list", "read"),
    ("google-calendar_events_get", "read"),
    ("hubspot_contacts_search", "read"),
    ("github_repos_list", "read"),
    ("confluence_pages_read", "read"),
    ("salesforce_records_find", "read"),
    ("salesforce_soql_query", "read"),
    ("slack_files_fetch", "read"),
    ("zendesk_tickets_view", "read"),
    ("google-drive_files_download", "read"),
    ("google-drive_files_export", "read"),
    ("notion_pages_retrieve", "read"),
    ("salesforce_objects_describe", "read"),
    ("gmail_users_messages_batchGet", "read"),
    ("slack_conversations_history", "read"),
    # write
    ("google-calendar_events_create", "write"),
    ("google-calendar_events_update", "write"),
    ("slack_chat_postMessage", "write"),
    ("slack_messages_send", "write"),
    ("github_issues_createComment", "write"),
    ("jira_comments_add", "write"),
    ("linear_issues_edit", "write"),
    ("github_pulls_patch", "write"),
    ("slack_channels_setTopic", "write"),
    ("google-drive_files_move", "write"),
    ("slack_files_upload", "write"),
    ("slack_users_invite", "write"),
    ("zendesk_tickets_reply", "write"),
    ("linear_issues_comment", "write"),
    ("github_pulls_merge", "write"),
    ("google-calendar_events_quickAdd", "write"),
    # delete
    ("github_repos_delete", "delete"),
    ("google-calendar_events_delete", "delete"),
    ("google-drive_permissions_remove", "delete"),
    ("hubspot_contacts_archive", "delete"),
    ("salesforce_records_destroy", "delete"),
    ("gmail_messages_purge", "delete"),
    ("microsoft-outlook_events_cancel", "delete"),
    ("github_tokens_revoke", "delete"),
    ("gmail_messages_trash", "delete"),
    ("gmail_users_messages_batchDelete", "delete"),
    # unknown verbs, and keys with no verb at all: the safer write
    ("github_repos_frobnicate", "write"),
    ("notion", "write"),
    ("", "write"),
    ("slack__", "write"),
    ("jira_issues_12345", "write"),
    # a resource that reads like a verb never makes an unknown operation a read
    ("github_status_frobnicate", "write"),
    ("github_list_frobnicate", "write"),
]


@pytest.mark.parametrize(("key", "access"), CASES)
def test_tool_access_follows_the_verb_of_its_key(key, access):
    assert classify_tool(key) == access


@pytest.mark.parametrize(
    ("part", "verb"),
    [("postMessage", "post"), ("list", "list"), ("batchDelete", "delete"), ("quickAdd", "add"),
     ("", "")],
)  # fmt: skip
def test_the_verb_is_the_first_camel_case_word(part, verb):
    assert verb_of(part) == verb
