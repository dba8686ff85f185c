"""Without a webpush channel, Herald offers no Web Push: the routes answer 404 and store
nothing, and the dashboard offers no subscription."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.webpush import Browser, subscribe, subscriptions_count


async def test_the_routes_answer_404_in_json_and_store_nothing(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    asked_for_html = {**bearer, "Accept": "text/html"}  # the API answers JSON all the same
    answer = await client.get("/api/push/vapid-public-key", headers=asked_for_html)
    assert answer.status_code == 404
    assert "Web Push is not configured" in (await answer.get_json())["message"]
    refused = await subscribe(client, bearer, Browser.new().subscription("https://p.example/1"))
    assert refused.status_code == 404
    assert await subscriptions_count(app) == 0


async def test_the_dashboard_offers_no_subscription(client: Client, auth: Any, user: Any) -> None:
    await auth.login()
    page = await (await client.get("/")).get_data(as_text=True)
    assert 'id="enable-push"' not in page
    assert "/static/push.js" not in page
