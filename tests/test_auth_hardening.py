"""Logins that cannot be replayed, guessed or confused: browser sessions end on the server
(logout, log out everywhere, password change), failed password checks are throttled per
account and per address, and usernames and passwords follow the rules of credentials.py."""

from __future__ import annotations

import socket
import statistics
import time

import pytest
import sqlalchemy as sa
from alembic import command

from leanlife_server.app import create_app
from leanlife_server.auth import create_first_admin, create_user
from leanlife_server.db import db
from leanlife_server.db.migrate import alembic_config, upgrade
from leanlife_server.db.models import User
from tests.conftest import PASSWORD
from tests.test_cli import env, leanlife  # noqa: F401  (env is a fixture used below)
from tests.test_jobs_support import REDIS_URL, redis_prefix  # noqa: F401  (a fixture used below)

NEW_PASSWORD = "a different passphrase"
CSRF = "X-CSRF-Token"


def log_in(app, username: str, password: str = PASSWORD):
    """A fresh browser logged in; returns (client, csrf token)."""
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    return client, r.get_json()["csrf_token"]


def copy_of(app, browser):
    """Another browser holding the same session cookie (a stolen or copied cookie)."""
    other = app.test_client()
    other.set_cookie("session", browser.get_cookie("session").value)
    return other


def can_read_and_write(client, csrf: str) -> tuple[int, int]:
    read = client.get("/api/v1/auth/me").status_code
    write = client.post("/api/v1/projects", json={"name": "p", "task": "sa"}, headers={CSRF: csrf}).status_code
    return read, write


# Sessions -----------------------------------------------------------------------------------

def test_a_cookie_copied_before_logout_neither_reads_nor_writes_after_it(app, make_caller):
    make_caller("alice")
    browser, csrf = log_in(app, "alice")
    thief = copy_of(app, browser)
    assert can_read_and_write(thief, csrf) == (200, 201)

    assert browser.post("/api/v1/auth/logout", headers={CSRF: csrf}).status_code == 204
    assert can_read_and_write(thief, csrf) == (401, 401)
    assert can_read_and_write(browser, csrf) == (401, 401)


def test_changing_the_password_ends_other_sessions_keeps_this_one_and_the_tokens(app, make_caller):
    alice = make_caller("alice")
    browser, csrf = log_in(app, "alice")
    laptop, laptop_csrf = log_in(app, "alice")
    copied = copy_of(app, browser)

    wrong = browser.post("/api/v1/auth/password", headers={CSRF: csrf},
                         json={"current_password": "not my password", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 403 and wrong.get_json()["error"]["details"]["field"] == "current_password"
    weak = browser.post("/api/v1/auth/password", headers={CSRF: csrf},
                        json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 422 and weak.get_json()["error"]["details"]["field"] == "new_password"

    r = browser.post("/api/v1/auth/password", headers={CSRF: csrf},
                     json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.get_json()
    new_csrf = r.get_json()["csrf_token"]
    assert new_csrf and new_csrf != csrf
    assert can_read_and_write(browser, new_csrf) == (200, 201)
    assert can_read_and_write(laptop, laptop_csrf) == (401, 401)
    assert can_read_and_write(copied, csrf) == (401, 401)  # the old session id is gone
    assert alice.get("/api/v1/auth/me").status_code == 200  # tokens are revoked separately

    client = app.test_client()
    assert client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    log_in(app, "alice", NEW_PASSWORD)


def test_a_token_holder_changes_the_password_and_every_browser_session_ends(app, make_caller):
    alice = make_caller("alice")
    browser, csrf = log_in(app, "alice")
    r = alice.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and r.get_json()["csrf_token"] is None
    assert can_read_and_write(browser, csrf) == (401, 401)
    assert alice.get("/api/v1/auth/me").status_code == 200


def test_log_out_everywhere_ends_every_browser_session_of_the_caller_only(app, make_caller):
    alice, bob = make_caller("alice"), make_caller("bob")
    browser, csrf = log_in(app, "alice")
    laptop, laptop_csrf = log_in(app, "alice")
    bobs, bobs_csrf = log_in(app, "bob")

    r = browser.post("/api/v1/auth/logout-everywhere", headers={CSRF: csrf})
    assert r.status_code == 200 and r.get_json() == {"sessions_ended": 2}
    assert can_read_and_write(browser, csrf) == (401, 401)
    assert can_read_and_write(laptop, laptop_csrf) == (401, 401)
    assert can_read_and_write(bobs, bobs_csrf) == (200, 201)
    assert alice.get("/api/v1/auth/me").status_code == 200 and bob.get("/api/v1/auth/me").status_code == 200


def test_a_session_ends_after_session_days(make_app):
    app = make_app({"session_days": 0})
    with app.app_context():
        create_user("alice", PASSWORD)
        db.session.commit()
    browser, csrf = log_in(app, "alice")
    assert can_read_and_write(browser, csrf) == (401, 401)


# Throttling ---------------------------------------------------------------------------------

def attempt(app, username: str, password: str, address: str = "127.0.0.1", path: str = "login"):
    return app.test_client().post(f"/api/v1/auth/{path}", json={"username": username, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.get_json()
    assert response.get_json()["error"]["code"] == "too_many_attempts"
    retry_after = int(response.headers["Retry-After"])
    # The limiter's window ends at a whole second, rounded up: up to one second past 15 min.
    assert 0 < retry_after <= 15 * 60 + 1
    assert response.get_json()["error"]["details"]["retry_after"] == retry_after


def users(app, *names: str) -> None:
    with app.app_context():
        for name in names:
            create_user(name, PASSWORD)
        db.session.commit()


def test_with_the_default_limits_guessing_an_account_stops_after_ten_failures(make_app):
    app = make_app()
    users(app, "alice")
    for n in range(10):
        assert attempt(app, "alice", f"guess number {n}", address=f"10.0.0.{n}").status_code == 401
    assert_throttled(attempt(app, "alice", PASSWORD, address="10.0.1.1"))  # even the right one
    assert_throttled(attempt(app, "ALICE", PASSWORD, address="10.0.1.2", path="token"))
    assert attempt(app, "bob", "whatever it is", address="10.0.1.3").status_code == 401


def test_an_address_is_throttled_across_accounts_and_others_are_not(make_app):
    app = make_app({"login_limit_per_address": "3 per minute"})
    users(app, "alice", "bob")
    for name in ("carol", "dave", "erin"):
        assert attempt(app, name, "a guessed password", address="10.0.0.9").status_code == 401
    assert_throttled(attempt(app, "alice", PASSWORD, address="10.0.0.9"))
    assert attempt(app, "alice", PASSWORD, address="10.0.0.10").status_code == 200


def test_successful_logins_are_never_throttled(make_app):
    app = make_app({"login_limit_per_account": "2 per minute", "login_limit_per_address": "2 per minute"})
    users(app, "alice")
    for _ in range(12):
        assert attempt(app, "alice", PASSWORD).status_code == 200
        assert attempt(app, "alice", PASSWORD, path="token").status_code == 201


def test_wrong_current_passwords_count_against_the_account(make_app):
    app = make_app({"login_limit_per_account": "2 per minute"})
    users(app, "alice")
    browser, csrf = log_in(app, "alice")
    for _ in range(2):
        r = browser.post("/api/v1/auth/password", headers={CSRF: csrf},
                         json={"current_password": "a guessed password", "new_password": NEW_PASSWORD})
        assert r.status_code == 403
    assert_throttled(browser.post("/api/v1/auth/password", headers={CSRF: csrf},
                                  json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
    assert_throttled(attempt(app, "alice", PASSWORD, address="10.9.9.9"))


def test_with_redis_every_process_shares_the_counts(make_app, redis_prefix):
    config = {"redis_url": REDIS_URL, "redis_prefix": redis_prefix, "login_limit_per_account": "2 per minute"}
    # Three apps on one database (each make_app empties it, so all are built first); the
    # third, without Redis, counts in its own memory.
    first, second = make_app(config), make_app(config)
    alone = make_app({"login_limit_per_account": "2 per minute"})
    users(first, "alice")
    for _ in range(2):
        assert attempt(first, "alice", "a guessed password").status_code == 401
    assert_throttled(attempt(second, "alice", PASSWORD))
    assert attempt(alone, "alice", PASSWORD).status_code == 200


def test_with_redis_down_logins_go_on_and_are_counted_in_memory(make_app):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app({"redis_url": f"redis://127.0.0.1:{port}/0", "login_limit_per_account": "2 per minute"})
    users(app, "alice")
    assert attempt(app, "alice", PASSWORD).status_code == 200
    for _ in range(2):
        assert attempt(app, "alice", "a guessed password").status_code == 401
    assert_throttled(attempt(app, "alice", PASSWORD))


def test_a_malformed_limit_is_refused_at_start(database_url, tmp_path):
    with pytest.raises(ValueError, match="LEANLIFE_LOGIN_LIMIT_PER_ACCOUNT"):
        create_app({"database_url": database_url, "data_dir": tmp_path, "login_limit_per_account": "lots"})


def test_an_unknown_username_takes_as_long_as_a_wrong_password(make_app):
    app = make_app({"login_limit_per_account": "1000 per minute", "login_limit_per_address": "1000 per minute"})
    users(app, "alice")

    def seconds(username: str) -> float:
        start = time.perf_counter()
        assert attempt(app, username, "a guessed password").status_code == 401
        return time.perf_counter() - start

    seconds("nobody")  # the dummy hash is made once
    known = statistics.median(seconds("alice") for _ in range(5))
    unknown = statistics.median(seconds("nobody") for _ in range(5))
    assert unknown > 0.5 * known, (unknown, known)


# Usernames and passwords --------------------------------------------------------------------

@pytest.mark.parametrize("password, reason", [
    ("nine char", "at least 10 characters"),
    ("x" * 1025, "at most 1024 characters"),
    ("password1234", "most commonly used"),
    ("qwertyuiop", "most commonly used"),
    ("NEWCOMER-1", "not be the username"),
])
def test_weak_passwords_are_refused(make_caller, password, reason):
    admin = make_caller("root", admin=True)
    r = admin.post("/api/v1/users", json={"username": "newcomer-1", "password": password})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == "password" and reason in r.get_json()["error"]["message"]


@pytest.mark.parametrize("username, reason", [
    (" bob", "start or end with a space"),
    ("bob ", "start or end with a space"),
    ("bob\u200b", "U+200B ZERO WIDTH SPACE"),
    ("b\u200dob", "U+200D ZERO WIDTH JOINER"),
    ("bo\x07b", "U+0007"),
    ("bob\n", "start or end with a space"),
    ("bo\tb", "U+0009"),
    ("b\u202eob", "U+202E"),
    ("", "must not be empty"),
    ("b" * 151, "at most 150 characters"),
])
def test_invisible_and_ambiguous_usernames_are_refused(make_caller, username, reason):
    admin = make_caller("root", admin=True)
    r = admin.post("/api/v1/users", json={"username": username, "password": NEW_PASSWORD})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == "username" and reason in r.get_json()["error"]["message"]


@pytest.mark.parametrize("taken", ["Alice", "ALICE", "ａｌｉｃｅ", "alice"])
def test_usernames_are_unique_regardless_of_case_and_unicode_form(make_caller, taken):
    admin = make_caller("root", admin=True)
    make_caller("alice")
    r = admin.post("/api/v1/users", json={"username": taken, "password": NEW_PASSWORD})
    assert r.status_code == 409 and "is taken" in r.get_json()["error"]["message"], r.get_json()


def test_names_are_stored_in_nfkc_and_log_in_in_any_case(app, make_caller):
    admin = make_caller("root", admin=True)
    r = admin.post("/api/v1/users", json={"username": "ﬁona Ｍüller", "password": NEW_PASSWORD})
    assert r.status_code == 201 and r.get_json()["username"] == "fiona Müller"
    for spelling in ("fiona müller", "FIONA MÜLLER", "ﬁona Ｍüller"):
        client, _ = log_in(app, spelling, NEW_PASSWORD)
        assert client.get("/api/v1/auth/me").get_json()["user"]["username"] == "fiona Müller"


def test_createuser_refuses_a_common_password(make_app, database_url, env):  # noqa: F811
    make_app()
    env["LEANLIFE_DATABASE_URL"] = database_url
    result = leanlife("createuser", "alice", env=env, stdin="password1234\n")
    assert result.returncode == 1 and "password: is one of the most commonly used" in result.stderr


def test_the_first_admin_password_meets_the_rules(app, tmp_path):
    with app.app_context():
        password = create_first_admin(tmp_path)
    assert password is not None
    log_in(app, "admin", password)


# The migration ------------------------------------------------------------------------------

def test_upgrading_renames_names_that_differ_only_by_case_and_keeps_their_rows(empty_database, tmp_path):
    app = create_app({"database_url": empty_database, "data_dir": tmp_path / "data"})
    upgrade(app, "0003")
    names = ["alice", "Alice", "ＡＬＩＣＥ", "Alice-2", "bob"]
    with app.app_context(), db.engine.begin() as conn:
        for i, name in enumerate(names, start=1):
            conn.execute(sa.text("INSERT INTO users (id, username, password_hash, is_admin, created_at) "
                                 "VALUES (:id, :name, 'h', false, CURRENT_TIMESTAMP)"), {"id": i, "name": name})
            conn.execute(sa.text("INSERT INTO api_tokens (user_id, name, token_hash, created_at) "
                                 "VALUES (:id, '', :hash, CURRENT_TIMESTAMP)"), {"id": i, "hash": f"{i:064d}"})
    upgrade(app)
    with app.app_context():
        rows = db.session.execute(sa.select(User.id, User.username, User.username_key).order_by(User.id)).all()
        assert [r.username for r in rows] == ["alice", "Alice-2-2", "ＡＬＩＣＥ-3", "Alice-2", "bob"]
        assert [r.username_key for r in rows] == ["alice", "alice-2-2", "alice-3", "alice-2", "bob"]
        assert db.session.scalar(sa.text("SELECT count(*) FROM api_tokens")) == len(names)
        with pytest.raises(Exception, match="is taken"):
            create_user("ALICE", NEW_PASSWORD)
        db.session.rollback()
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0003")
        assert db.session.scalar(sa.text("SELECT count(*) FROM api_tokens")) == len(names)
        db.session.remove()
        db.engine.dispose()
