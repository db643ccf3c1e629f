"""The issues page links each record it names to that record's page, and the page opens; the
district page links to the list of all its runs."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import httpx
from tests.integration.admin.conftest import AdminWorld, staff_sign_in

LINK = re.compile(r'<a href="(/admin/districts/springfield/(?:people|classes|schools)/[^"]+)">')


def test_every_record_on_the_issues_page_links_to_a_page_that_opens(
    world: AdminWorld, browser: httpx.Client
) -> None:
    staff_sign_in(browser, world.dm_springfield.email)
    page = browser.get("/admin/districts/springfield/issues")
    assert page.status_code == 200
    links = sorted(set(LINK.findall(page.text)))
    assert links, "the planted bad records should be linked to their pages"
    for link in links:
        opened = browser.get(link.replace("&amp;", "&"))
        assert opened.status_code == 200, (link, opened.text[:300])
        sourced_id = unquote(link.rsplit("/", 1)[1])
        assert html.escape(sourced_id) in opened.text, link  # the page of that very record


def test_the_district_page_links_to_every_run(world: AdminWorld, browser: httpx.Client) -> None:
    staff_sign_in(browser, world.dm_springfield.email)
    page = browser.get("/admin/districts/springfield").text
    found = re.search(r'<a href="([^"]+)" id="all-runs">All runs</a>', page)
    assert found and found.group(1) == "/admin/districts/springfield/runs"
    runs = browser.get(found.group(1))
    assert runs.status_code == 200 and "Showing" in runs.text
