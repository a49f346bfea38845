"""The demo's connectors backed by real reference MCP servers (DESIGN.md §9): `time` and `repo`.

- Their tools are seeded (scenario.py) under the names the servers list (`<slug>_<tool>`), so
  the demo's policies can name them before any server has run; `sync_connector_tools` (which
  `make run` runs) then fills in the servers' own descriptions and input schemas.
- What an upstream owns is left to it on a later seed: the connector's state (Connected or Error
  after a sync) and a tool's description, schema and missing mark. The access kinds are those
  the servers' annotations give, so a sync agrees with the seed.
- The servers themselves are ops' configuration (MCP_UPSTREAMS; under `make run` the file that
  agenwork/embedded.py writes), never the database's.
"""

from __future__ import annotations

from connectors.models import Tool

R, W, D = Tool.Access.READ, Tool.Access.WRITE, Tool.Access.DELETE

# (slug, name, tools: (key, access, the server's description))
MCP_CONNECTORS: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("time", "Time", (
        ("time_get_current_time", R, "Get current time in a specific timezone"),
        ("time_convert_time", R, "Convert time between timezones"),
    )),
    ("repo", "Demo repository", (
        ("repo_git_status", R, "Shows the working tree status"),
        ("repo_git_diff_unstaged", R,
         "Shows changes in the working directory that are not yet staged"),
        ("repo_git_diff_staged", R, "Shows changes that are staged for commit"),
        ("repo_git_diff", R, "Shows differences between branches or commits"),
        ("repo_git_log", R, "Shows the commit logs"),
        ("repo_git_show", R, "Shows the contents of a commit"),
        ("repo_git_branch", R, "List Git branches"),
        ("repo_git_add", W, "Adds file contents to the staging area"),
        ("repo_git_commit", W, "Records changes to the repository"),
        ("repo_git_create_branch", W, "Creates a new branch from an optional base branch"),
        ("repo_git_checkout", W, "Switches branches"),
        ("repo_git_reset", D, "Unstages all staged changes"),
    )),
)  # fmt: skip

# What the demo's policies give Engineering on `repo` (mcp-server-git's read-only tools), put
# behind "Engineering approvals", and refuse to every agent.
REPO_READS = (
    "repo_git_status", "repo_git_diff_unstaged", "repo_git_diff_staged", "repo_git_diff",
    "repo_git_log", "repo_git_show", "repo_git_branch",
)  # fmt: skip
REPO_CHANGES = ("repo_git_add", "repo_git_commit", "repo_git_create_branch")
REPO_DENIED = ("repo_git_reset", "repo_git_checkout")
