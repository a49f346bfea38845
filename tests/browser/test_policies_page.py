"""The Policies page in Chromium: create in the panel, edit, delete, preview, test a call."""

from __future__ import annotations

import re

import pytest
from django.db.models import Q
from playwright.sync_api import expect

from audit.models import AuditEntry
from directory.models import Person
from policies.models import Policy
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

ROWS = "#policies-table tbody tr[data-row]"


def mark_document(page) -> None:
    """A flag that only survives while the page is not reloaded."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def row(page, name: str):
    return page.locator(ROWS).filter(has=page.locator(".policy-link", has_text=name))


def test_create_a_policy_in_the_panel_and_see_it_in_the_table(
    page, open_as_admin, demo, pick, problems
):
    open_as_admin("/policies/")
    expect(page.locator("h1")).to_have_text("Policies")
    before = Policy.objects.count()
    expect(page.locator(ROWS)).to_have_count(before)
    mark_document(page)

    page.get_by_role("link", name="Create policy").click()
    panel = page.locator("#panel")
    expect(panel.locator("h2")).to_have_text("Create policy")
    page.wait_for_url(re.compile(r"/policies/new/$"))
    panel.locator("#id_name").fill("Ben reads GitHub")
    panel.locator("#id_description").fill("Only the repository list")
    panel.locator("#id_connector").select_option(label="GitHub")
    # The tools of the chosen connector arrive through htmx.
    panel.get_by_label("github_repos_list (read)").check()
    pick(panel, "Users", "ben", "Ben Kim · ben@example.com")
    panel.locator("#id_action").select_option("allow")
    panel.get_by_role("button", name="Save policy").click()

    expect(panel).to_contain_text("Created the policy “Ben reads GitHub”.")
    expect(panel.locator(".policy-name")).to_have_text("Ben reads GitHub")
    expect(page.locator(ROWS)).to_have_count(before + 1)
    new_row = row(page, "Ben reads GitHub")
    expect(new_row).to_contain_text("1 user")
    expect(new_row).to_contain_text("github_repos_list")
    expect(new_row.locator(".badge.action-allow")).to_have_text("Allow")
    expect(new_row).to_have_class(re.compile(r"\bselected\b"))
    assert_not_reloaded(page)

    policy = Policy.objects.get(name="Ben reads GitHub")
    page.wait_for_url(re.compile(rf"/policies/{policy.pk}/$"))
    assert [t.key for t in policy.tools.all()] == ["github_repos_list"]
    entry = AuditEntry.objects.get(object_type="policy", object_id=str(policy.pk))
    assert entry.action == "created"
    assert entry.after["users"] == ["ben@example.com"]
    assert problems.errors == []


@pytest.fixture
def crowd(demo):
    """The demo's people among 300 colleagues, as in a company's directory."""
    Person.objects.bulk_create(
        Person(name=f"Colleague {i:03d}", email=f"colleague{i:03d}@example.com") for i in range(300)
    )
    return demo


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_the_pickers_find_people_by_part_of_a_name_or_email(
    page, open_as_admin, crowd, pick, problems, size
):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    open_as_admin("/policies/")
    page.get_by_role("link", name="Create policy").click()
    panel = page.locator("#panel")
    panel.locator("#id_name").fill("Dana and Ben list events")
    panel.locator("#id_connector").select_option(label="Google Calendar")
    # The plain list's "hold Ctrl" hint gives way to the picker.
    expect(panel.locator("[data-picker-hint]")).to_be_hidden()
    pick(panel, "Users", "levi", "Dana Levi · dana@example.com")
    pick(panel, "Users", "ben@", "Ben Kim · ben@example.com")
    pick(panel, "Users", "colleague 12", "Colleague 120 · colleague120@example.com")
    chips = panel.locator(".field-users .ts-control .item")
    expect(chips).to_have_count(3)
    chips.filter(has_text="Colleague 120").locator(".remove").click()
    expect(chips).to_have_count(2)
    pick(panel, "Groups", "sec", "Security")
    panel.get_by_role("button", name="Save policy").click()

    expect(panel).to_contain_text("Created the policy “Dana and Ben list events”.")
    policy = Policy.objects.get(name="Dana and Ben list events")
    emails = sorted(person.email for person in policy.users.all())
    assert emails == ["ben@example.com", "dana@example.com"]
    assert [group.name for group in policy.groups.all()] == ["Security"]
    assert problems.errors == []


def test_without_javascript_the_plain_lists_choose_the_same_people(plain_page, demo):
    page = plain_page
    page.goto("/accounts/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto("/policies/new/")
    expect(page.locator(".ts-wrapper")).to_have_count(0)
    expect(page.locator("[data-picker-hint]")).to_be_visible()
    page.locator("#id_name").fill("Picked without JavaScript")
    page.locator("#id_connector").select_option(label="GitHub")
    # Ctrl-click in the plain lists: several people, one group.
    page.locator("#id_users").select_option(
        label=["Ben Kim · ben@example.com", "Dana Levi · dana@example.com"]
    )
    page.locator("#id_groups").select_option(label="Engineering")
    page.get_by_role("button", name="Save policy").click()
    page.wait_for_url(re.compile(r"/policies/\d+/$"))

    policy = Policy.objects.get(name="Picked without JavaScript")
    emails = sorted(person.email for person in policy.users.all())
    assert emails == ["ben@example.com", "dana@example.com"]
    assert [group.name for group in policy.groups.all()] == ["Engineering"]


def test_the_back_button_brings_back_the_form_with_working_pickers(
    page, open_as_admin, demo, pick, problems
):
    open_as_admin("/policies/")
    page.get_by_role("link", name="Create policy").click()
    panel = page.locator("#panel")
    pick(panel, "Users", "dana", "Dana Levi · dana@example.com")
    page.screenshot()  # like a reviewer's tool: it leaves style="" on the inputs
    row(page, "Everyone may read calendars").locator(".policy-link").click()
    expect(panel.locator(".policy-name")).to_have_text("Everyone may read calendars")

    page.go_back()
    page.wait_for_url(re.compile(r"/policies/new/$"))
    expect(panel.locator(".ts-wrapper")).to_have_count(2)  # one picker per list, no leftovers
    chips = panel.locator(".field-users .ts-control .item")
    expect(chips).to_have_count(1)
    expect(chips).to_contain_text("Dana Levi · dana@example.com")
    pick(panel, "Users", "kim", "Ben Kim · ben@example.com")
    assert problems.errors == []


def test_a_rejected_draft_shows_why_and_saves_nothing(page, open_as_admin, demo):
    open_as_admin("/policies/")
    page.get_by_role("link", name="Create policy").click()
    panel = page.locator("#panel")
    panel.locator("#id_name").fill("Needs a flow")
    panel.locator("#id_connector").select_option(label="Google Calendar")
    panel.locator("#id_all_users").check()
    panel.locator("#id_action").select_option("approval_required")
    panel.get_by_role("button", name="Save policy").click()
    expect(panel).to_contain_text("A Request approval policy needs an approval flow.")
    expect(panel.locator("#id_name")).to_have_value("Needs a flow")
    assert not Policy.objects.filter(name="Needs a flow").exists()


def test_edit_from_the_row_menu_and_preview_what_would_change(page, open_as_admin, demo, problems):
    open_as_admin("/policies/")
    target = row(page, "No agent deletes calendar events")
    target.locator("summary").click()
    target.get_by_role("link", name="Edit").click()
    panel = page.locator("#panel")
    expect(panel.locator("h2")).to_have_text("Edit policy")
    expect(panel.locator("#id_name")).to_have_value("No agent deletes calendar events")

    panel.get_by_role("button", name="What would change").click()
    expect(panel.locator(".preview-result")).to_contain_text(
        "No call would be decided differently."
    )

    panel.locator("#id_action").select_option("step_up")
    panel.get_by_role("button", name="Save policy").click()
    expect(panel).to_contain_text("Saved the policy")
    expect(row(page, "No agent deletes calendar events").locator(".badge")).to_have_text("Step up")
    policy = Policy.objects.get(name="No agent deletes calendar events")
    assert policy.action == Policy.Action.STEP_UP
    entry = AuditEntry.objects.get(object_id=str(policy.pk), action="updated")
    assert (entry.before["action"], entry.after["action"]) == ("deny", "step_up")
    assert problems.errors == []


def test_delete_asks_for_confirmation_first(page, open_as_admin, demo):
    open_as_admin("/policies/")
    mark_document(page)
    target = row(page, "Engineering uses GitHub")
    target.locator("summary").click()
    target.get_by_role("link", name="Delete").click()
    panel = page.locator("#panel")
    expect(panel).to_contain_text("Delete the policy Engineering uses GitHub?")
    expect(panel.locator(".delete-summary")).to_contain_text("Engineering")
    assert Policy.objects.filter(name="Engineering uses GitHub").exists()

    panel.get_by_role("button", name="Delete policy").click()
    expect(panel).to_contain_text("Deleted the policy “Engineering uses GitHub”.")
    expect(page.locator(ROWS)).to_have_count(Policy.objects.count())
    expect(row(page, "Engineering uses GitHub")).to_have_count(0)
    assert_not_reloaded(page)
    assert not Policy.objects.filter(name="Engineering uses GitHub").exists()


def test_search_and_action_filter_without_a_reload(page, open_as_admin, demo):
    open_as_admin("/policies/")
    mark_document(page)
    page.locator("#id_q").fill("calendar")
    page.wait_for_url(re.compile(r"q=calendar"))
    expect(page.locator(ROWS)).to_have_count(
        Policy.objects.filter(
            Q(name__icontains="calendar") | Q(description__icontains="calendar")
        ).count()
    )
    page.select_option("#id_action", "deny")
    page.wait_for_url(re.compile(r"action=deny"))
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(".policy-link")).to_have_text("No agent deletes calendar events")
    # Sorted by name already: the first click reverses it.
    page.locator("#policies-table thead th a", has_text="Name").click()
    page.wait_for_url(re.compile(r"sort=-name"))
    assert "q=calendar" in page.url
    assert_not_reloaded(page)


def test_test_a_call_shows_the_decision_and_why(page, open_as_admin, demo, problems):
    open_as_admin("/policies/")
    page.get_by_role("link", name="Test a call").click()
    panel = page.locator("#panel")
    expect(panel.locator("h2")).to_have_text("Test a call")
    panel.locator("#id_user").fill("ana@example.com")
    panel.locator("#id_connector").select_option(label="Google Calendar")
    panel.get_by_label("google-calendar_events_create").check()
    panel.get_by_label("google-calendar_events_list").check()
    panel.get_by_role("button", name="Test").click()

    result = panel.locator(".simulation-result")
    expect(result.locator(".overall-decision")).to_have_text("Request approval")
    expect(result.locator(".reason-code")).to_have_text("approval_required")
    create = result.locator('tr[data-tool="google-calendar_events_create"]')
    expect(create.locator(".winner")).to_have_text("Sales calendar changes need approval")
    listed = result.locator('tr[data-tool="google-calendar_events_list"]')
    expect(listed.locator(".winner")).to_have_text("Everyone may read calendars")
    page.wait_for_url(re.compile(r"/policies/simulate/\?user=ana%40example\.com"))

    panel.locator("#id_user").fill("lee@example.com")
    panel.get_by_role("button", name="Test").click()
    expect(result.locator(".reason-code")).to_have_text("user_locked")
    assert problems.errors == []


def test_closing_the_panel_returns_to_the_list_url(page, open_as_admin, demo):
    open_as_admin("/policies/?sort=-action")
    row(page, "Everyone may read calendars").locator(".policy-link").click()
    expect(page.locator("#panel .policy-name")).to_have_text("Everyone may read calendars")
    page.keyboard.press("Escape")
    expect(page.locator("#panel")).to_be_empty()
    page.wait_for_url(re.compile(r"/policies/\?sort=-action$"))
