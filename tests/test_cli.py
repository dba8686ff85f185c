"""The quart CLI commands, run the way an operator runs them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import select

from app import create_app
from app.auth import hash_token, verify_password
from app.db import get_db
from app.models import AlertRecord, ApiToken, User, utcnow
from app.silences import Matcher, create_silence
from tests.sample_channels import FailingChannel, RecordingChannel, path

pytestmark = pytest.mark.storage


@pytest.fixture(name="app")
def _app(settings: dict[str, Any]) -> Quart:
    return create_app(settings, env="testing")


def invoke(app: Quart, *args: str, stdin: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def query(app: Quart, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        async with get_db(app).connected() as database, database.session() as session:
            return list(await session.scalars(statement))

    return asyncio.run(run())


def test_migrate_creates_admin_with_a_generated_password_once(app: Quart) -> None:
    first = invoke(app, "migrate")
    assert first.exit_code == 0, first.output
    assert "Database is up to date" in first.output
    password = first.output.split("Created user 'admin' with password: ")[1].split()[0]
    [admin] = query(app, select(User))
    assert admin.username == "admin"
    assert admin.is_admin
    assert verify_password(admin.password_hash, password)
    assert password not in admin.password_hash

    second = invoke(app, "migrate")
    assert second.exit_code == 0
    assert "Created user" not in second.output


def test_migrate_takes_the_admin_password_from_the_environment(settings: dict[str, Any]) -> None:
    app = create_app({**settings, "ADMIN_PASSWORD": "from-the-env-123"}, env="testing")
    result = invoke(app, "migrate")
    assert "with the password in HERALD_ADMIN_PASSWORD" in result.output
    assert "from-the-env-123" not in result.output
    [admin] = query(app, select(User))
    assert verify_password(admin.password_hash, "from-the-env-123")


def test_create_user_reads_the_password_from_stdin(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "create-user", "bob", "--admin", stdin="bobs-password-1\n")
    assert result.exit_code == 0, result.output
    assert "Created administrator 'bob'." in result.output
    bob = next(u for u in query(app, select(User)) if u.username == "bob")
    assert bob.is_admin
    assert verify_password(bob.password_hash, "bobs-password-1")


@pytest.mark.parametrize(
    ("stdin", "message"), [("short\n", "at least 8 characters"), ("", "at least 8 characters")]
)
def test_create_user_refuses_weak_passwords(app: Quart, stdin: str, message: str) -> None:
    invoke(app, "migrate")
    result = invoke(app, "create-user", "bob", stdin=stdin)
    assert result.exit_code != 0
    assert message in result.output


def test_create_user_refuses_a_taken_name(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "create-user", "admin", stdin="another-password\n")
    assert result.exit_code != 0
    assert "a user named 'admin' already exists" in result.output


def test_create_token_prints_it_once_and_stores_only_its_hash(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "create-token", "admin", "--label", "ci")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("hrld_")
    [stored] = query(app, select(ApiToken))
    assert stored.label == "ci"
    assert stored.token_hash == hash_token(token)
    assert token not in stored.token_hash


def test_create_token_for_unknown_user_fails(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "create-token", "nobody")
    assert result.exit_code != 0
    assert "there is no user named 'nobody'" in result.output


def test_send_alert_prints_a_result_table(settings: dict[str, Any]) -> None:
    settings["CHANNELS"] = [path(RecordingChannel), path(FailingChannel)]
    app = create_app(settings, env="testing")
    invoke(app, "migrate")
    result = invoke(app, "send-alert", "Disk full", "--title", "db1", "--severity", "critical")
    assert result.exit_code == 1  # one channel failed
    lines = result.output.splitlines()
    assert lines[0].split() == ["channel", "status", "latency", "error"]
    assert lines[1].split()[:2] == ["recording", "sent"]
    assert lines[2].split()[:2] == ["failing", "failed"]
    assert lines[2].endswith("DeliveryError: provider said no (code 21211)")
    [alert] = query(app, select(AlertRecord))
    assert (alert.title, alert.severity, alert.source) == ("db1", "critical", "cli")


def test_send_alert_to_one_channel_succeeds(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "send-alert", "hello", "--channel", "recording")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2


def test_send_alert_that_a_silence_matches_says_so(app: Quart) -> None:
    invoke(app, "migrate")

    async def silence() -> None:
        async with get_db(app).connected() as database, database.session() as session:
            now = utcnow()
            await create_silence(
                session,
                matchers=[Matcher("severity", "info")],
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                comment="",
                created_by="test",
            )

    asyncio.run(silence())
    result = invoke(app, "send-alert", "hello")
    assert result.exit_code == 1
    assert "alert #1 is recorded but sent nowhere: silence #1 matches it" in result.output


def test_send_alert_to_unknown_channel_fails_clearly(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "send-alert", "hello", "--channel", "pager")
    assert result.exit_code != 0
    assert "unknown channel(s): pager; configured channels: failing, recording" in result.output


def test_purge_reports_what_it_deleted(app: Quart) -> None:
    invoke(app, "migrate")
    result = invoke(app, "purge", "--older-than", "30d")
    assert result.exit_code == 0, result.output
    assert "Deleted 0 alert(s) and 0 delivery record(s)." in result.output


@pytest.mark.parametrize("age", ["soon", "0d", "30", "-1d"])
def test_purge_needs_a_sensible_age(app: Quart, age: str) -> None:
    result = invoke(app, "purge", "--older-than", age)
    assert result.exit_code != 0
    assert "such as 30d" in result.output
