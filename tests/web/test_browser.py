"""The web UI in headless Chromium against a live `nichandle serve`, on both databases: the
issue's whole flow, from the first user `serve` prints to signing out, with screenshots."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from nichandle.accounts import service as accounts
from nichandle.accounts import sessions
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import contact_payload
from tests.test_live_server import LiveServer, module_database, module_server
from tests.web.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.web.helpers import FIRST_USER, PASSWORD, first_credentials

server = module_server("web-e2e")
db = module_database()


UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
    .map(e => e.name || e.id)"""


async def shoot(page: Page, name: str) -> None:
    """Screenshots at desktop and phone width, checking on the way that every input has a
    label and that nothing is wider than a 390 px screen."""
    assert await page.evaluate(UNLABELLED) == [], f"{name}: inputs without a label"
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    # Usable at 390 px: nothing wider than the screen.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways at 390 px ({width} px)"
    await page.set_viewport_size(DESKTOP)


async def api(live: LiveServer, token: str, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live.base_url, headers=headers, timeout=30) as http:
        response = await http.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def fill_contact(page: Page, **fields: str) -> None:
    values = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "phone": "(212) 555-0100",
        "address_street": "Broadway",
        "address_house_number": "1",
        "address_postal_code": "10001",
        "address_city": "New York",
        **fields,
    }
    for name, value in values.items():
        await page.fill(f"#f-{name}", value)
    await page.select_option("#f-address_country_code", "US")
    # The state select follows the country (swapped in by the page's script).
    await expect(page.locator("select#f-address_state")).to_be_visible()
    await page.select_option("#f-address_state", "NY")


async def test_the_whole_flow_in_a_browser(
    server: LiveServer,
    db: Database,
    browser: Browser,
) -> None:
    token, password = first_credentials(server)
    context = await browser.new_context(viewport=DESKTOP, base_url=server.base_url)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    ui = f"{server.base_url}/ui"

    # Sign in as the first user `serve` printed.
    await page.goto(f"{ui}/sign-in")
    await shoot(page, "sign-in")
    await page.fill("#email", FIRST_USER)
    await page.fill("#password", password)
    await page.click("button:has-text('Sign in')")
    # The password was one-time: the first page asks for the user's own.
    await expect(page.locator("h1")).to_have_text("Choose your password")
    await page.fill("#f-current_password", password)
    await page.fill("#f-password", PASSWORD)
    await page.fill("#f-password_confirm", PASSWORD)
    await page.click("button:has-text('Save password')")
    await expect(page.get_by_test_id("current-team")).to_have_text("My team")

    # Create a contact with a national-format phone: saved normalised.
    await page.click("text=New contact")
    await fill_contact(page)
    await page.click("button:has-text('Save contact')")
    await expect(page.get_by_test_id("saved-phone")).to_have_text("+12125550100")
    grace = page.url.split("/contacts/")[1].split("?")[0]

    # A field error, inline beside its field.
    await page.goto(f"{ui}/contacts/new")
    await fill_contact(page, email="not-an-email", first_name="Alan", last_name="Turing")
    await page.click("button:has-text('Save contact')")
    await expect(page.locator("#e-email")).to_be_visible()
    await expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    await shoot(page, "contact-form-errors")
    await page.fill("#f-email", "alan@example.com")
    await page.click("button:has-text('Save contact')")
    await expect(page.get_by_test_id("saved-phone")).to_be_visible()
    alan = page.url.split("/contacts/")[1].split("?")[0]

    # Edit: name fields are read-only, the rest saves.
    await page.goto(f"{ui}/contacts/{grace}/edit")
    await expect(page.locator("#f-first_name")).to_have_attribute("readonly", "")
    await page.fill("#f-address_city", "Brooklyn")
    await page.fill("#f-address_postal_code", "11201")
    await page.click("button:has-text('Save contact')")
    await expect(page.locator("dl.details")).to_contain_text("Brooklyn")

    # Two domains (through the API), then a role assigned on the domain page.
    for name in ("alpha-e2e.com", "beta-e2e.com"):
        await api(
            server,
            token,
            "POST",
            "/api/v1/domains",
            json={"name": name, "contacts": {"owner": grace}},
        )
    await page.goto(f"{ui}/domains/alpha-e2e.com")
    await page.fill("#handle-admin", alan)
    await page.click("#role-admin ~ form button")
    await expect(page.get_by_test_id("role-admin")).to_contain_text("Alan Turing")

    # A contact created inline from the domain page, for the billing role.
    await page.click("summary:has-text('Create a new contact')")
    await page.select_option("#new-role", "billing")
    await fill_contact(page, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    await page.click("button:has-text('Create and assign')")
    await expect(page.get_by_test_id("role-billing")).to_contain_text("Ada Lovelace")
    await expect(page.locator("p.warning").first).to_contain_text("60 days")
    await shoot(page, "domain")

    # An in-use contact says why it can't go; an unused one is deleted.
    spare = (
        await api(
            server,
            token,
            "POST",
            "/api/v1/contacts",
            json=contact_payload(email="spare@example.com"),
        )
    )["data"]["handle"]
    await page.goto(f"{ui}/contacts")
    await expect(page.locator(f"tr[data-handle='{grace}']")).to_contain_text("used by 2 domains")
    await expect(page.locator(f"tr[data-handle='{alan}'] button.danger")).to_have_count(0)
    await shoot(page, "contacts")
    await page.click(f"tr[data-handle='{spare}'] button.danger")
    await expect(page.locator(f"tr[data-handle='{spare}']")).to_have_count(0)

    # Reassign Grace's registrant role to Alan across both domains, after a preview: a change
    # of registrant, which a Designated Agent of both parties approves at once (cor-2024).
    agent = await api(
        server,
        token,
        "POST",
        "/api/v1/designated-agents",
        json={"name": "Agent", "email": "agent@example.net", "parties": "both"},
    )
    await page.goto(f"{ui}/contacts/{grace}")
    await shoot(page, "contact")
    await page.click("text=Replace this contact on its domains")
    await page.fill("#to", alan)
    for role in ("admin", "tech", "billing"):
        await page.uncheck(f"#role-{role}")
    await page.click("button:has-text('Preview')")
    await expect(page.locator("input[name=domains]")).to_have_count(2)
    await page.click("button[value=apply]")
    await expect(page.get_by_test_id("reassigned")).to_have_text(re.compile("Moved 2 domains"))
    owners = [
        (await api(server, token, "GET", f"/api/v1/domains/{n}"))["data"]["contacts"]["owner"]
        for n in ("alpha-e2e.com", "beta-e2e.com")
    ]
    assert owners == [alan, alan]
    # Applied with the 60-day transfer lock, which the domain page shows with its day.
    await page.goto(f"{ui}/domains/alpha-e2e.com")
    await expect(page.get_by_test_id("transfer-lock")).to_contain_text("locked until")

    # Without the agent, a new email for Alan waits for both registrants: the domain page
    # shows the pending change, Alan's page lists it, and Cancel keeps the registrant.
    await api(server, token, "DELETE", f"/api/v1/designated-agents/{agent['data']['id']}")
    await api(
        server, token, "PATCH", f"/api/v1/contacts/{alan}", json={"email": "alan@example.org"}
    )
    await page.goto(f"{ui}/contacts/{alan}")
    await expect(page.get_by_test_id("registrant-changes").locator("li")).to_have_count(2)
    await page.goto(f"{ui}/domains/alpha-e2e.com")
    change = page.get_by_test_id("registrant-change")
    await expect(change.get_by_test_id("registrant-change-fields")).to_have_text("email")
    await expect(change.get_by_test_id("confirmed-new")).to_contain_text("not confirmed yet")
    await shoot(page, "registrant-change")
    await change.locator("button:has-text('Cancel the change of registrant')").click()
    await expect(page.get_by_test_id("registrant-change-cancelled")).to_be_visible()
    await expect(page.get_by_test_id("registrant-change")).to_have_count(0)

    await page.goto(f"{ui}/domains")
    await shoot(page, "domains")

    # An API token: shown once, and it works.
    await page.goto(f"{ui}/tokens")
    await page.fill("#token-name", "deploy")
    await page.click("button:has-text('Create token')")
    secret = await page.get_by_test_id("token-secret").inner_text()
    await shoot(page, "tokens")
    listed = await api(server, secret, "GET", "/api/v1/contacts")
    # Grace, Alan, Ada, and the contact that held Alan's prior details while his change waited.
    assert listed["meta"]["total"] == 4

    # A second team for the same user: switch with the header's select.
    async with unit_of_work(db) as session:
        second = await accounts.create_account(session, "Second team")
        await sessions.create_user(session, FIRST_USER, second, None)
    await page.goto(f"{ui}/contacts")
    await page.select_option("#account-select", second.slug)
    await expect(page.get_by_test_id("current-team")).to_have_text("Second team")
    await expect(page.locator("table.contacts")).to_contain_text("No contacts")

    # Sign out: the pages send the browser to sign in again.
    await page.click("button:has-text('Sign out')")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.goto(f"{ui}/contacts")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await context.close()
