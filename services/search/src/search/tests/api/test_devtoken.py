"""`:token` mints what the embedded default accepts."""

import httpx
import pytest

from search.devtoken import main


async def test_a_development_token_is_accepted(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--sub", "alice", "--group", "ops"]) == 0
    token = capsys.readouterr().out.strip()

    response = await client.get(
        "/v1/search", params={"q": "x"}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
