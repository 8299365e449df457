"""Listing documents: keyset pages, status filters, and the count a progress bar needs."""

from tests.conftest import add_document, create_project


def test_count_matches_the_filter_and_pages_stay_keyset(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=(("pos", "document"),))
    base = f"/api/v1/projects/{project['id']}/documents"
    ids = [add_document(owner, project["id"], f"review number {i}")["id"] for i in range(5)]
    for document_id in ids[:2]:
        assert owner.put(f"{base}/{document_id}/finished").status_code == 204

    page = owner.get(f"{base}?limit=2&count=true").get_json()
    assert page["total"] == 5 and [d["id"] for d in page["items"]] == ids[:2]
    assert page["next_cursor"] == ids[1]
    assert owner.get(f"{base}?status=finished&count=true").get_json()["total"] == 2
    assert owner.get(f"{base}?status=unfinished&count=1").get_json()["total"] == 3
    assert "total" not in owner.get(f"{base}?limit=2").get_json()
