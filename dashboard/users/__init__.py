"""The Users page: people and groups from the identity provider, and what applies to each.

It lives with the other layer-4 pages because a person's panel reads policies, requests and
decisions; `directory/` itself knows nothing of those.
"""
