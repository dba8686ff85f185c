"""Record ids from clients: 1 to 2^31-1 in ASCII digits, without leading zeros."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from app.ids import MAX_ID, parse_id

# Each place where the pattern's alternatives meet, from both sides, and the ends.
EDGES = [1, 9, 10, 999_999_999, 1_000_000_000, 1_999_999_999, 2_000_000_000, 2_099_999_999]
EDGES += [2_100_000_000, 2_139_999_999, 2_140_000_000, 2_146_999_999, 2_147_000_000]
EDGES += [2_147_399_999, 2_147_400_000, 2_147_479_999, 2_147_480_000, 2_147_482_999]
EDGES += [2_147_483_000, 2_147_483_599, 2_147_483_600, 2_147_483_639, 2_147_483_640, MAX_ID]


@pytest.mark.parametrize("number", EDGES)
def test_every_id_in_range_is_read(number: int) -> None:
    assert parse_id(str(number)) == number


@pytest.mark.parametrize(
    "text", ["0", "2147483648", "2147483650", "2147483700", "9999999999", "10000000000"]
)
def test_ids_out_of_range_are_not_ids(text: str) -> None:
    assert parse_id(text) is None


@pytest.mark.parametrize(
    "text", ["", "007", "01", "-1", "+1", "1.0", "1 ", "\u00b2", "\u0663", "1e3"]
)
def test_other_text_is_not_an_id(text: str) -> None:
    assert parse_id(text) is None


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("path", ["/api/silences/0", "/api/silences/2147483648"])
async def test_an_id_out_of_range_is_404_whatever_the_method(
    client: Client, bearer: dict[str, str], method: str, path: str
) -> None:
    # GET and DELETE both have routes on this path: a range check after matching made it 405
    response = await client.open(path, method=method, headers=bearer, json=None)
    assert response.status_code == 404
