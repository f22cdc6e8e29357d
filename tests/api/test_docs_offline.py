"""The API docs at ``/docs`` work without internet: every asset they load is served here."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

URL = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


def test_docs_page_loads_only_local_assets(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.text, re.I), page.text
    referenced = URL.findall(page.text)
    assert {"/openapi.json", "/assets/swagger-ui/swagger-ui-bundle.js"} <= set(referenced)
    for path in referenced:
        assert api.get(path).status_code == 200, path


def test_the_cdn_docs_pages_are_gone(api: TestClient) -> None:
    assert api.get("/redoc").status_code == 404
    assert api.get("/docs/oauth2-redirect").status_code == 404
