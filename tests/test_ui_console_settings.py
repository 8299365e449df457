"""The owner console's settings that the API had before the console did, in a real browser on
SQLite and PostgreSQL: overlap (team annotation issue, item 1) with its validation messages,
and the query strategy (assistance issue, item 3), each set through the UI and read back from
the API."""

from __future__ import annotations

from tests.test_ui_annotate import NER_DOCS, NER_LABELS, SA_LABELS
from tests.test_ui_harness import browser, login, server  # noqa: F401 (fixtures)


def test_owner_sets_overlap_in_the_console(server, browser):
    pid = server.project("sa", "none", SA_LABELS, ["A warm , funny and moving film ."])
    admin = server.rest["admin"]
    assert admin("GET", f"/projects/{pid}")["settings"]["overlap"] == 1

    owner = login(browser, server.url, "admin")
    owner.goto(f"{server.url}/#/projects/{pid}/console")
    team = owner.locator("[data-testid=team-section]")
    overlap, share = team.get_by_label("annotators per document"), team.get_by_label("share of documents (%)")
    save = team.get_by_role("button", name="Save team settings")
    assert overlap.input_value() == "1" and share.input_value() == "100"

    # Out of range or not whole: a message that says what is allowed, and nothing is sent.
    for wrong in ("0", "2.5", "101", ""):
        overlap.fill(wrong)
        team.get_by_text("Annotators per document must be a whole number from 1 to 100.").wait_for()
        assert save.is_disabled()
    overlap.fill("2")
    assert team.locator(".error").count() == 0
    for wrong in ("-5", "150", ""):
        share.fill(wrong)
        team.get_by_text("The share of documents must be a percentage from 0 to 100.").wait_for()
        assert save.is_disabled()
    assert admin("GET", f"/projects/{pid}")["settings"]["overlap"] == 1

    share.fill("10")
    save.click()
    owner.get_by_text("Overlap saved: 10% of the documents go to 2 annotators each, the others to one.").wait_for()
    settings = admin("GET", f"/projects/{pid}")["settings"]
    assert (settings["overlap"], settings["overlap_share"]) == (2, 0.1)

    # Read back on a fresh page.
    owner.reload()
    team = owner.locator("[data-testid=team-section]")
    assert team.get_by_label("annotators per document").input_value() == "2"
    assert team.get_by_label("share of documents (%)").input_value() == "10"
    owner.context.close()


def test_owner_chooses_the_query_strategy_among_the_tasks_own(server, browser):
    pid = server.project("ner", "none", NER_LABELS, NER_DOCS)
    admin = server.rest["admin"]
    registered = [r["name"] for r in admin("GET", "/plugins")["registrations"]
                  if r["kind"] == "query_strategy" and "ner" in r["tasks"]]
    assert "mnlp" in registered and "uncertainty" not in registered  # an SA/RE strategy
    assert admin("GET", f"/projects/{pid}")["settings"]["query_strategy"] is None

    owner = login(browser, server.url, "admin")
    owner.goto(f"{server.url}/#/projects/{pid}/console")
    choice = owner.locator("[data-testid=learning-section]").get_by_label("query strategy")
    choice.wait_for()
    options = choice.locator("option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["", *registered]
    assert options.first.inner_text() == f"default ({registered[0]})"
    choice.select_option("mnlp")
    owner.get_by_test_id("strategy-description").filter(has_text="normalized log-probability").wait_for()
    owner.get_by_text("Save settings").click()
    owner.get_by_text("Learning settings saved.").wait_for()
    assert admin("GET", f"/projects/{pid}")["settings"]["query_strategy"] == "mnlp"

    owner.reload()
    choice = owner.locator("[data-testid=learning-section]").get_by_label("query strategy")
    assert choice.input_value() == "mnlp"
    choice.select_option("")  # back to the task's default
    owner.get_by_text("Save settings").click()
    owner.get_by_text("Learning settings saved.").wait_for()
    assert admin("GET", f"/projects/{pid}")["settings"]["query_strategy"] is None
    owner.context.close()
