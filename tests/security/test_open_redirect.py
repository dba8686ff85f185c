"""Open redirects: after login, ``next`` may only lead to a path on this site."""

from __future__ import annotations

import pytest

from app.models import User
from tests.conftest import AuthActions


@pytest.mark.parametrize(
    "next_",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
    ],
)
async def test_login_never_redirects_off_site(auth: AuthActions, user: User, next_: str) -> None:
    response = await auth.login(next_=next_)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("next_", ["/alerts/7", "/admin?tab=tokens"])
async def test_local_paths_are_followed(auth: AuthActions, user: User, next_: str) -> None:
    response = await auth.login(next_=next_.replace("?", "%3F"))
    assert response.headers["Location"] == next_
