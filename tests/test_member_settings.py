"""A member's own settings, and the project's default threshold for the suggestions shown
(``min_recommendation_confidence``): a new project takes its task's suggestion, owners change
it, and a member's own choice wins over it."""

from __future__ import annotations

from tests.conftest import create_project

SETTINGS = "/api/v1/projects/{}/settings"
MINE = "/api/v1/projects/{}/me/settings"


def shown_from(caller, project_id: int) -> float:
    r = caller.get(MINE.format(project_id))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["min_recommendation_confidence"]


def test_a_new_project_hides_suggestions_below_its_tasks_threshold(app, make_caller):
    owner = make_caller("owner")
    tasks = app.extensions["leanlife"].tasks
    assert tasks.get("sa").suggested_min_confidence > 0, "SA suggests hiding coin-toss suggestions"
    for task in ("ner", "sa"):
        project = create_project(owner, task)
        expected = tasks.get(task).suggested_min_confidence
        assert project["settings"]["min_recommendation_confidence"] == expected
        assert shown_from(owner, project["id"]) == expected


def test_members_follow_the_project_until_they_choose_their_own(app, make_caller):
    owner, anna = make_caller("owner"), make_caller("anna")
    project = create_project(owner, "sa")
    pid = project["id"]
    assert owner.post(f"/api/v1/projects/{pid}/members", json={"username": "anna", "role": "annotator"}).status_code == 201
    r = owner.patch(SETTINGS.format(pid), json={"min_recommendation_confidence": 0.55})
    assert r.status_code == 200 and r.get_json()["min_recommendation_confidence"] == 0.55
    assert shown_from(anna, pid) == 0.55
    assert anna.patch(MINE.format(pid), json={"show_recommendations": False}).status_code == 200
    assert shown_from(anna, pid) == 0.55, "another setting does not freeze the threshold"
    assert anna.patch(MINE.format(pid), json={"min_recommendation_confidence": 0.2}).status_code == 200
    assert owner.patch(SETTINGS.format(pid), json={"min_recommendation_confidence": 0.9}).status_code == 200
    assert shown_from(anna, pid) == 0.2, "the member's own choice wins"
    assert shown_from(owner, pid) == 0.9


def test_the_projects_threshold_is_checked_and_owners_only(app, make_caller):
    owner, anna = make_caller("owner"), make_caller("anna")
    pid = create_project(owner, "ner")["id"]
    assert owner.post(f"/api/v1/projects/{pid}/members", json={"username": "anna", "role": "annotator"}).status_code == 201
    r = owner.patch(SETTINGS.format(pid), json={"min_recommendation_confidence": 1.5})
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "min_recommendation_confidence"
    assert anna.patch(SETTINGS.format(pid), json={"min_recommendation_confidence": 0.5}).status_code == 403
    assert shown_from(owner, pid) == 0.0
