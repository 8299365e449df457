"""A save's answer carries the etag a later read gives, so a client can send it straight back
as ``If-Match`` (on SQLite the answer's time had a zone and the read's had none: 412)."""

from __future__ import annotations

from tests.conftest import add_document, create_project


def test_the_etag_a_save_answers_is_the_one_a_read_gives_and_if_match_takes(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=(("pos", "document"), ("neg", "document")))
    document = add_document(owner, project["id"], "a fine film")
    url = f"/api/v1/projects/{project['id']}/documents/{document['id']}/annotations"
    saved = owner.post(url, json={"label": "pos"})
    assert saved.status_code == 201, saved.get_json()
    annotation = saved.get_json()
    assert saved.headers["ETag"] == f'"{annotation["etag"]}"'
    [read] = owner.get(url).get_json()["items"]
    assert (read["etag"], read["updated_at"]) == (annotation["etag"], annotation["updated_at"])
    one = f"/api/v1/projects/{project['id']}/annotations/{annotation['id']}"
    changed = owner.put(one, json={"label": "neg"}, headers={"If-Match": f'"{annotation["etag"]}"'})
    assert changed.status_code == 200, changed.get_json()
    [read] = owner.get(url).get_json()["items"]
    assert read["etag"] == changed.get_json()["etag"]
    again = owner.put(one, json={"label": "pos"},
                      headers={"If-Match": f'"{changed.get_json()["etag"]}"'})
    assert again.status_code == 200, again.get_json()
