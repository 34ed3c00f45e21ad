"""The web UI through the ASGI app, on both databases: sign-in, forms, rules, tenancy, CSRF."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from nichandle import clock
from nichandle.accounts.models import User, WebSession
from nichandle.app import create_app
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from nichandle.verification import service as verification
from nichandle.verification.models import EntryKind, MailKind, Verification, VerificationMail
from tests.conftest import Team, create_contact, designated_agent, make_team, us_contact_payload
from tests.web.helpers import PASSWORD, csrf_of, make_user, sign_in


def contact_form(csrf: str, **overrides: str) -> dict[str, str]:
    fields = {key: str(value) for key, value in us_contact_payload(phone="(212) 555-0100").items()}
    return {"csrf_token": csrf, **fields, **overrides}


async def add_domain(http: httpx.AsyncClient, team: Team, name: str, **roles: str) -> None:
    body = {"name": name, "contacts": roles} if roles else {"name": name}
    response = await http.post("/api/v1/domains", json=body, headers=team.headers)
    assert response.status_code == 201, response.text


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, team: Team, db: object) -> str:
    email = await make_user(db, team.slug)  # type: ignore[arg-type]
    return await sign_in(client, email)


async def test_wrong_password_and_unknown_email_get_the_same_answer_then_429(
    client: httpx.AsyncClient, team: Team, db: object
) -> None:
    email = await make_user(db, team.slug)  # type: ignore[arg-type]
    form = csrf_of((await client.get("/ui/sign-in")).text)
    wrong = await client.post(
        "/ui/sign-in", data={"csrf_token": form, "email": email, "password": "x" * 12}
    )
    unknown = await client.post(
        "/ui/sign-in",
        data={"csrf_token": form, "email": "nobody@example.com", "password": "x" * 12},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or the password is wrong." in wrong.text
    assert "The email or the password is wrong." in unknown.text
    assert email not in unknown.text
    for _ in range(4):  # five failures per email and window (settings default)
        await client.post(
            "/ui/sign-in", data={"csrf_token": form, "email": email, "password": "y" * 12}
        )
    limited = await client.post(
        "/ui/sign-in", data={"csrf_token": form, "email": email, "password": PASSWORD}
    )
    assert limited.status_code == 429
    assert "Too many" in limited.text
    assert int(limited.headers["retry-after"]) > 0


async def test_failed_sign_ins_are_limited_per_address_too(
    settings: Settings, team: Team, db: object
) -> None:
    app = create_app(settings.model_copy(update={"web_sign_in_failures_per_address": 2}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        form = csrf_of((await http.get("/ui/sign-in")).text)
        for n in range(2):
            response = await http.post(
                "/ui/sign-in",
                data={"csrf_token": form, "email": f"a{n}@example.com", "password": "z" * 12},
            )
            assert response.status_code == 401
        email = await make_user(db, team.slug)  # type: ignore[arg-type]
        refused = await http.post(
            "/ui/sign-in", data={"csrf_token": form, "email": email, "password": PASSWORD}
        )
        assert refused.status_code == 429
    await app.state.db.dispose()


async def test_session_cookie_is_signed_httponly_lax_and_secure_behind_https(
    settings: Settings, team: Team, db: object
) -> None:
    email = await make_user(db, team.slug)  # type: ignore[arg-type]
    for public_url, secure in ((None, False), ("https://registrar.example", True)):
        app = create_app(settings.model_copy(update={"public_url": public_url}))
        transport = httpx.ASGITransport(app=app)
        # A Secure cookie travels over https only: the test client too must speak it.
        base_url = "https://testserver" if secure else "http://testserver"
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            form = csrf_of((await http.get("/ui/sign-in")).text)
            response = await http.post(
                "/ui/sign-in", data={"csrf_token": form, "email": email, "password": PASSWORD}
            )
        await app.state.db.dispose()
        assert response.status_code == 303, response.text
        cookie = next(
            v
            for k, v in response.headers.multi_items()
            if k == "set-cookie" and v.startswith("nichandle_session=")
        )
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert ("secure" in flags) is secure
        assert any(flag.startswith("max-age=") for flag in flags)
        value = cookie.split(";")[0].split("=", 1)[1]
        assert "." in value  # secret.signature


async def test_pages_cannot_be_framed_or_cached(client: httpx.AsyncClient, signed_in: str) -> None:
    for path in ("/ui/sign-in", "/ui/contacts", "/ui/tokens", "/ui/contacts/nosuchhandle"):
        response = await client.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


async def test_a_tampered_or_signed_out_cookie_is_not_accepted(
    client: httpx.AsyncClient, signed_in: str
) -> None:
    cookie = client.cookies["nichandle_session"]
    secret, signature = cookie.rsplit(".", 1)
    client.cookies.set("nichandle_session", f"{secret}x.{signature}", path="/ui")
    assert (await client.get("/ui/contacts")).status_code == 303
    client.cookies.set("nichandle_session", cookie, path="/ui")
    assert (await client.get("/ui/contacts")).status_code == 200
    out = await client.post("/ui/sign-out", data={"csrf_token": signed_in})
    assert out.status_code == 303
    # The browser dropped it; a copy replayed is refused: the session is revoked server-side.
    client.cookies.set("nichandle_session", cookie, path="/ui")
    replay = await client.get("/ui/contacts")
    assert replay.status_code == 303
    assert replay.headers["location"].endswith("/ui/sign-in")


async def test_a_one_time_password_must_be_replaced_before_any_page(
    client: httpx.AsyncClient, team: Team, db: object
) -> None:
    email = await make_user(db, team.slug, one_time=True)  # type: ignore[arg-type]
    form = csrf_of((await client.get("/ui/sign-in")).text)
    signed = await client.post(
        "/ui/sign-in", data={"csrf_token": form, "email": email, "password": PASSWORD}
    )
    assert signed.status_code == 303
    for path in ("/ui/contacts", "/ui/domains", "/ui/tokens"):
        held = await client.get(path)
        assert held.status_code == 303
        assert held.headers["location"].endswith("/ui/password")
    csrf = csrf_of((await client.get("/ui/password")).text)
    new = "my very own password"
    for data, field in (
        (
            {"current_password": "wrong password!", "password": new, "password_confirm": new},
            "current_password",
        ),
        (
            {"current_password": PASSWORD, "password": new, "password_confirm": new + "x"},
            "password_confirm",
        ),
        (
            {"current_password": PASSWORD, "password": "short", "password_confirm": "short"},
            "password",
        ),
    ):
        refused = await client.post("/ui/password", data={"csrf_token": csrf, **data})
        assert refused.status_code == 422
        assert f'id="e-{field}"' in refused.text
    chosen = await client.post(
        "/ui/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "password": new,
            "password_confirm": new,
        },
    )
    assert chosen.status_code == 303
    assert (await client.get("/ui/contacts")).status_code == 200
    form = csrf_of((await client.get("/ui/sign-in")).text)
    old = await client.post(
        "/ui/sign-in", data={"csrf_token": form, "email": email, "password": PASSWORD}
    )
    assert old.status_code == 401


async def test_a_session_expires_after_its_hours(
    client: httpx.AsyncClient, team: Team, db: object, settings: Settings
) -> None:
    email = await make_user(db, team.slug)  # type: ignore[arg-type]
    with clock.use(clock.FrozenClock(datetime.now(UTC))) as frozen:
        await sign_in(client, email)
        frozen.advance(timedelta(hours=settings.web_session_hours) - timedelta(seconds=1))
        assert (await client.get("/ui/contacts")).status_code == 200
        frozen.advance(timedelta(seconds=1))
        expired = await client.get("/ui/contacts")
    assert expired.status_code == 303
    assert expired.headers["location"].endswith("/ui/sign-in")


async def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    for token in (None, "forged"):
        data = contact_form(signed_in)
        data.pop("csrf_token")
        if token:
            data["csrf_token"] = token
        response = await client.post("/ui/contacts/new", data=data)
        assert response.status_code == 403
        assert "not sent by this site" in response.text
    listed = await client.get("/api/v1/contacts", headers=team.headers)
    assert listed.json()["meta"]["total"] == 0
    form = await client.post("/ui/sign-in", data={"email": "a@example.com", "password": "p" * 12})
    assert form.status_code == 403


async def test_create_normalises_the_phone_reports_field_errors_and_offers_the_duplicate(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    bad = await client.post(
        "/ui/contacts/new", data=contact_form(signed_in, email="nope", phone="12")
    )
    assert bad.status_code == 422
    assert 'id="e-email"' in bad.text
    assert 'id="e-phone"' in bad.text
    assert 'value="Main Street"' in bad.text  # what was typed stays
    created = await client.post("/ui/contacts/new", data=contact_form(signed_in))
    assert created.status_code == 303
    page = await client.get(created.headers["location"])
    assert 'data-testid="saved-phone">+12125550100<' in page.text
    again = await client.post("/ui/contacts/new", data=contact_form(signed_in))
    assert again.status_code == 200
    assert "This contact already exists" in again.text
    handle = created.headers["location"].split("/contacts/")[1].split("?")[0]
    assert f"/ui/contacts/{handle}" in again.text
    listed = await client.get("/api/v1/contacts", headers=team.headers)
    assert listed.json()["meta"]["total"] == 1
    copy = await client.post(
        "/ui/contacts/new", data={**contact_form(signed_in), "allow_duplicate": "1"}
    )
    assert copy.status_code == 303


async def test_edit_keeps_identity_fields_and_history_names_the_user(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    contact = await create_contact(client, team)
    handle = contact["handle"]
    form = await client.get(f"/ui/contacts/{handle}/edit")
    assert re.search(r'id="f-first_name"[^>]*readonly', form.text)
    assert "create a new contact and assign it instead" in form.text
    response = await client.post(
        f"/ui/contacts/{handle}/edit",
        data={
            **{k: str(v) for k, v in contact.items() if isinstance(v, str)},
            **{
                "csrf_token": signed_in,
                "first_name": "Changed",
                "address_city": "Rotterdam",
                "address_postal_code": "3011 AA",
                "address_street": "Coolsingel",
                "address_country_code": "NL",
                "email": "jan@example.com",
                "phone": "020 123 4567",
            },
        },
    )
    assert response.status_code == 303, response.text
    read = (await client.get(f"/api/v1/contacts/{handle}", headers=team.headers)).json()["data"]
    assert read["first_name"] == "Jan"
    assert read["address_city"] == "Rotterdam"
    assert read["phone"] == "+31201234567"
    page = await client.get(f"/ui/contacts/{handle}")
    assert "through <em>web</em>" in page.text
    assert "through <em>native</em>" in page.text
    assert re.search(r"user-[0-9a-f]+@example\.com", page.text)
    assert "Amsterdam → Rotterdam" in page.text
    invalid = await client.post(
        f"/ui/contacts/{handle}/edit",
        data={"csrf_token": signed_in, "email": "bad", "address_street": "x"},
    )
    assert invalid.status_code == 422
    assert 'id="e-email"' in invalid.text


async def test_the_list_searches_sorts_and_pages_by_the_native_rules(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    for n in range(26):
        await create_contact(client, team, email=f"p{n:02d}@example.com", last_name=f"Zed{n:02d}")
    await create_contact(client, team, email="needle@example.com", last_name="Aardvark")
    first = await client.get("/ui/contacts?sort=-email")
    emails = re.findall(r'<td data-label="Email">([^<]+)</td>', first.text)
    assert len(emails) == 25
    assert emails == sorted(emails, reverse=True)
    assert "Page 1 of 2" in first.text
    second = await client.get("/ui/contacts?sort=-email&page=2")
    assert len(re.findall(r'<td data-label="Email">', second.text)) == 2
    found = await client.get("/ui/contacts?query=needle")
    assert re.findall(r'<td data-label="Email">([^<]+)</td>', found.text) == ["needle@example.com"]
    assert "1 contact matching" in found.text
    bad = await client.get("/ui/contacts?page=0")
    assert bad.status_code == 422


async def test_a_new_contact_replacing_one_goes_on_to_reassign_it(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    old = await create_contact(client, team)
    form = await client.get(f"/ui/contacts/new?replaces={old['handle']}")
    assert 'value="Jansen"' in form.text
    data = {
        **{k: v for k, v in old.items() if isinstance(v, str)},
        "csrf_token": signed_in,
        "last_name": "Jansen-de Vries",
        "replaces": old["handle"],
    }
    response = await client.post("/ui/contacts/new", data=data)
    assert response.status_code == 303, response.text
    assert f"/ui/contacts/{old['handle']}/reassign?to=" in response.headers["location"]
    page = await client.get(response.headers["location"])
    new_handle = response.headers["location"].rsplit("=", 1)[1]
    assert f'value="{new_handle}"' in page.text


async def test_delete_only_where_allowed_and_the_row_says_why_not(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    used = await create_contact(client, team)  # the first contact: the default
    other = await create_contact(client, team, email="other@example.com")
    spare = await create_contact(client, team, email="spare@example.com")
    await add_domain(client, team, "used-web.com", owner=other["handle"])
    page = await client.get("/ui/contacts")
    rows = dict(re.findall(r'<tr data-handle="(\w+)">(.*?)</tr>', page.text, re.S))
    assert "the default contact" in rows[used["handle"]]
    assert "used by 1 domain" in rows[other["handle"]]
    assert "/delete" not in rows[other["handle"]]
    assert "/delete" in rows[spare["handle"]]
    refused = await client.post(
        f"/ui/contacts/{other['handle']}/delete", data={"csrf_token": signed_in}
    )
    assert refused.status_code == 409
    assert "used-web.com" in refused.text
    deleted = await client.post(
        f"/ui/contacts/{spare['handle']}/delete", data={"csrf_token": signed_in}
    )
    assert deleted.status_code == 303
    gone = await client.get(f"/api/v1/contacts/{spare['handle']}", headers=team.headers)
    assert gone.status_code == 404


async def test_domain_roles_inline_create_and_bulk_reassign(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    a = await create_contact(client, team)
    b = await create_contact(client, team, email="b@example.com")
    # An agent approves changes of registrant for both parties: a registrant moves at once.
    await designated_agent(client, team.headers)
    for name in ("one-web.com", "two-web.com"):
        await add_domain(client, team, name, owner=a["handle"], admin=a["handle"])
    page = await client.get("/ui/domains/one-web.com")
    assert "locked for 60 days" in page.text
    assigned = await client.post(
        "/ui/domains/one-web.com/roles",
        data={"csrf_token": signed_in, "role": "tech", "handle": b["handle"]},
    )
    assert assigned.status_code == 303
    missing = await client.post(
        "/ui/domains/one-web.com/roles",
        data={"csrf_token": signed_in, "role": "tech", "handle": "nosuchhandle"},
    )
    assert missing.status_code == 422
    assert "not found" in missing.text
    inline = await client.post(
        "/ui/domains/one-web.com/contacts",
        data=contact_form(signed_in, role="billing", email="billing@example.com"),
    )
    assert inline.status_code == 303
    domain = (await client.get("/api/v1/domains/one-web.com", headers=team.headers)).json()
    roles = domain["data"]["contacts"]
    assert roles["tech"] == b["handle"]
    assert roles["billing"] not in (a["handle"], b["handle"])
    preview = await client.post(
        f"/ui/contacts/{a['handle']}/reassign",
        data={
            "csrf_token": signed_in,
            "to": b["handle"],
            "roles": ["registrant"],
            "action": "preview",
        },
    )
    assert preview.status_code == 200
    assert 'value="one-web.com" checked' in preview.text
    assert 'value="two-web.com" checked' in preview.text
    applied = await client.post(
        f"/ui/contacts/{a['handle']}/reassign",
        data={
            "csrf_token": signed_in,
            "to": b["handle"],
            "roles": ["registrant"],
            "domains": ["two-web.com"],
            "action": "apply",
        },
    )
    assert 'data-testid="reassigned">Moved 1 domain' in applied.text
    one = (await client.get("/api/v1/domains/one-web.com", headers=team.headers)).json()
    two = (await client.get("/api/v1/domains/two-web.com", headers=team.headers)).json()
    assert one["data"]["contacts"]["owner"] == a["handle"]
    assert two["data"]["contacts"]["owner"] == b["handle"]
    assert two["data"]["contacts"]["admin"] == a["handle"]
    every = await client.post(
        f"/ui/contacts/{a['handle']}/reassign",
        data={
            "csrf_token": signed_in,
            "to": b["handle"],
            "roles": ["admin"],
            "action": "apply_all",
        },
    )
    assert 'data-testid="reassigned">Moved 2 domains' in every.text
    history = (await client.get("/ui/domains/two-web.com")).text
    entries = re.findall(r"<li>[^<]*<strong>registrant</strong>(.*?)</li>", history, re.S)
    assert len(entries) == 2  # set by the API, then moved once by the reassign
    assert f"{a['handle']} → {b['handle']}" in entries[0]
    assert "through <em>web</em>" in entries[0]
    assert re.search(r"by user-[0-9a-f]+@example\.com", entries[0])


async def test_tokens_are_shown_once_listed_and_revoked(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    created = await client.post("/ui/tokens", data={"csrf_token": signed_in, "name": "ci"})
    secret = re.search(r'data-testid="token-secret">([^<]+)<', created.text)
    assert secret
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert (await client.get("/api/v1/contacts", headers=headers)).status_code == 200
    listed = await client.get("/ui/tokens")
    assert secret.group(1) not in listed.text
    token_id = re.findall(r"/ui/tokens/(\d+)/revoke", listed.text)[-1]
    revoked = await client.post(f"/ui/tokens/{token_id}/revoke", data={"csrf_token": signed_in})
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/contacts", headers=headers)).status_code == 401


async def test_another_accounts_data_is_never_shown_or_changed(
    client: httpx.AsyncClient, team: Team, other_team: Team, signed_in: str, db: object
) -> None:
    await create_contact(client, team)
    theirs = await create_contact(client, other_team, email="theirs@example.com")
    spare = await create_contact(client, other_team, email="spare@example.com")
    await add_domain(client, other_team, "theirs-web.com", owner=theirs["handle"])
    handle = spare["handle"]
    for path in (
        f"/ui/contacts/{handle}",
        f"/ui/contacts/{handle}/edit",
        f"/ui/contacts/{handle}/reassign",
        "/ui/contacts/new?replaces=" + handle,
        "/ui/domains/theirs-web.com",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Spare" not in response.text
        assert "theirs@" not in response.text
    listed = await client.get("/ui/contacts?query=example")
    assert handle not in listed.text
    assert theirs["handle"] not in listed.text
    assert "theirs-web.com" not in (await client.get("/ui/domains")).text
    csrf = {"csrf_token": signed_in}
    for path, data in (
        (f"/ui/contacts/{handle}/edit", {**csrf, "email": "x@example.com"}),
        (f"/ui/contacts/{handle}/delete", csrf),
        (f"/ui/contacts/{handle}/reassign", {**csrf, "to": handle, "action": "apply"}),
        ("/ui/domains/theirs-web.com/roles", {**csrf, "role": "admin", "handle": handle}),
        ("/ui/domains/theirs-web.com/contacts", contact_form(signed_in, role="admin")),
        ("/ui/account", {**csrf, "account": other_team.slug}),
    ):
        response = await client.post(path, data=data)
        assert response.status_code == 404, (path, response.text)
    ours = await create_contact(client, team, email="ours@example.com")
    await add_domain(client, team, "ours-web.com")
    into_ours = await client.post(
        "/ui/domains/ours-web.com/roles", data={**csrf, "role": "admin", "handle": handle}
    )
    assert into_ours.status_code == 422
    moved = await client.post(
        f"/ui/contacts/{ours['handle']}/reassign",
        data={**csrf, "to": handle, "roles": ["admin"], "action": "preview"},
    )
    assert moved.status_code == 422
    their_tokens = await client.get("/api/v1/contacts", headers=other_team.headers)
    assert their_tokens.status_code == 200
    tokens_page = await client.get("/ui/tokens")
    assert other_team.token[:10] not in tokens_page.text
    # Their token's id: one past ours (tokens are numbered across accounts).
    ids = [int(i) for i in re.findall(r"/ui/tokens/(\d+)/revoke", tokens_page.text)]
    for token_id in range(1, max(ids) + 3):
        if token_id not in ids:
            refused = await client.post(f"/ui/tokens/{token_id}/revoke", data=csrf)
            assert refused.status_code == 404
    assert (await client.get("/api/v1/contacts", headers=other_team.headers)).status_code == 200
    still = await client.get(f"/api/v1/contacts/{handle}", headers=other_team.headers)
    assert still.json()["data"]["email"] == "spare@example.com"


async def test_a_user_of_two_accounts_switches_and_the_header_shows_which(
    client: httpx.AsyncClient, db: object
) -> None:
    first = await make_team(db, "First Team")  # type: ignore[arg-type]
    second = await make_team(db, "Second Team")  # type: ignore[arg-type]
    email = await make_user(db, first.slug, second.slug)  # type: ignore[arg-type]
    csrf = await sign_in(client, email)
    await create_contact(client, second, email="second@example.com")
    page = await client.get("/ui/contacts")
    assert 'data-testid="current-team">First Team<' in page.text
    assert "second@example.com" not in page.text
    switched = await client.post("/ui/account", data={"csrf_token": csrf, "account": second.slug})
    assert switched.status_code == 303
    page = await client.get("/ui/contacts")
    assert 'data-testid="current-team">Second Team<' in page.text
    assert "second@example.com" in page.text
    assert "Can't delete: the team's last contact, the default contact" in html.unescape(page.text)


async def test_a_pending_verification_shows_with_a_resend_limited_to_once_per_interval(
    client: httpx.AsyncClient, team: Team, signed_in: str, db: Database, settings: Settings
) -> None:
    registrant = await create_contact(client, team, email="pending@example.com")
    contact_page = f"/ui/contacts/{registrant['handle']}"
    with clock.use(clock.FrozenClock(datetime.now(UTC))) as frozen:
        await add_domain(client, team, "pending-web.com", owner=registrant["handle"])
        for page in (contact_page, "/ui/domains/pending-web.com"):
            shown = await client.get(page)
            assert 'data-testid="verification"' in shown.text
            assert "pending@example.com" in shown.text
        # The first mail was just queued: a resend waits out the interval (429, Retry-After).
        too_soon = await client.post(
            f"{contact_page}/verification/resend", data={"csrf_token": signed_in}
        )
        assert too_soon.status_code == 429
        assert int(too_soon.headers["retry-after"]) == settings.verification_resend_seconds
        forged = await client.post(f"{contact_page}/verification/resend", data={})
        assert forged.status_code == 403
        frozen.advance(timedelta(seconds=settings.verification_resend_seconds))
        resent = await client.post(
            f"{contact_page}/verification/resend", data={"csrf_token": signed_in}
        )
        assert resent.status_code == 303
        assert 'data-testid="resent"' in (await client.get(resent.headers["location"])).text
        again = await client.post(
            "/ui/domains/pending-web.com/verification/resend", data={"csrf_token": signed_in}
        )
        assert again.status_code == 429  # one interval for the address, whichever page asks
    async with unit_of_work(db, write=False) as session:
        kinds = list(
            await session.scalars(
                select(VerificationMail.kind)
                .where(VerificationMail.account_id == team.id)
                .order_by(VerificationMail.id)
            )
        )
    assert kinds == [MailKind.REQUEST, MailKind.RESEND]
    # The worker records what it sent: the page lists it.
    async with unit_of_work(db) as session:
        opened = await session.scalar(
            select(Verification).where(Verification.email_normalized == "pending@example.com")
        )
        assert opened is not None
        await verification.record_entry(session, opened, EntryKind.SENT, "mail")
    shown = (await client.get(contact_page)).text
    assert 'data-testid="verification-history"' in shown
    assert "<strong>sent</strong>" in shown
    # Nothing pending for an address nobody has to verify (no gTLD registrant).
    spare = await create_contact(client, team, email="spare@example.com")
    refused = await client.post(
        f"/ui/contacts/{spare['handle']}/verification/resend", data={"csrf_token": signed_in}
    )
    assert refused.status_code == 400
    assert (
        'data-testid="verification"'
        not in (await client.get(f"/ui/contacts/{spare['handle']}")).text
    )


async def test_ended_sessions_go_when_the_user_signs_in_again_and_stay_refused(
    client: httpx.AsyncClient, team: Team, db: Database, settings: Settings
) -> None:
    email = await make_user(db, team.slug)
    with clock.use(clock.FrozenClock(datetime.now(UTC))) as frozen:
        await sign_in(client, email)
        expired = client.cookies["nichandle_session"]
        frozen.advance(timedelta(hours=settings.web_session_hours))
        csrf = await sign_in(client, email)
        assert (await client.post("/ui/sign-out", data={"csrf_token": csrf})).status_code == 303
        await sign_in(client, email)
        async with unit_of_work(db, write=False) as session:
            kept = list(
                await session.scalars(
                    select(WebSession.revoked_at).join(User).where(User.email == email)
                )
            )
        assert kept == [None]  # the live one; the expired and the signed-out one are gone
        client.cookies.set("nichandle_session", expired, path="/ui")
        replay = await client.get("/ui/contacts")
    assert replay.status_code == 303
    assert replay.headers["location"].endswith("/ui/sign-in")


async def test_the_domain_page_sets_the_transfer_lock_opt_out_and_shows_a_dispute_hold(
    client: httpx.AsyncClient, team: Team, signed_in: str
) -> None:
    owner = await create_contact(client, team)
    await add_domain(client, team, "opt-out-web.com", owner=owner["handle"])
    page = "/ui/domains/opt-out-web.com"
    action = f"{page}/transfer-lock-opt-out"
    assert (await client.post(action, data={"opt_out": "on"})).status_code == 403  # no CSRF
    saved = await client.post(action, data={"csrf_token": signed_in, "opt_out": "on"})
    assert saved.status_code == 303
    api = await client.get("/api/v1/domains/opt-out-web.com", headers=team.headers)
    assert api.json()["data"]["transfer_lock_opt_out"] is True
    shown = (await client.get(page)).text
    assert 'id="opt-out" name="opt_out" checked' in shown
    assert 'data-testid="opt-out-set"' in shown
    withdrawn = await client.post(action, data={"csrf_token": signed_in})  # unticked
    assert withdrawn.status_code == 303
    api = await client.get("/api/v1/domains/opt-out-web.com", headers=team.headers)
    assert api.json()["data"]["transfer_lock_opt_out"] is False
    held = await client.patch(
        "/api/v1/domains/opt-out-web.com", json={"dispute_hold": True}, headers=team.headers
    )
    assert held.status_code == 200, held.text
    assert 'data-testid="dispute-hold"' in (await client.get(page)).text


async def agent(client: httpx.AsyncClient, team: Team, parties: str) -> int:
    """A Designated Agent approving changes of registrant for ``parties`` (prior, new, both)."""
    recorded = await client.post(
        "/api/v1/designated-agents",
        json={"name": "Agent", "email": "agent@example.net", "parties": parties},
        headers=team.headers,
    )
    assert recorded.status_code == 201, recorded.text
    agent_id: int = recorded.json()["data"]["id"]
    return agent_id


async def test_a_pending_change_of_registrant_shows_on_both_pages_and_cancels_with_csrf(
    app: FastAPI,
    client: httpx.AsyncClient,
    team: Team,
    other_team: Team,
    signed_in: str,
    db: Database,
) -> None:
    # The prior party's agent approves at once: the new registrant still has to confirm.
    agent_id = await agent(client, team, "prior")
    owner = await create_contact(client, team, email="prior-web@example.com")
    await add_domain(client, team, "cor-web.com", owner=owner["handle"])
    start = datetime.now(UTC)
    with clock.use(clock.FrozenClock(start)):
        edited = await client.patch(
            f"/api/v1/contacts/{owner['handle']}",
            json={"email": "new-web@example.com"},
            headers=team.headers,
        )
    assert edited.status_code == 202, edited.text
    [change] = edited.json()["registrant_changes"]
    prior = change["prior_contact"]

    page = "/ui/domains/cor-web.com"
    shown = (await client.get(page)).text
    section = shown.split('data-testid="registrant-change"', 1)[1].split("</section>", 1)[0]
    assert f"/ui/contacts/{owner['handle']}" in section  # to whom
    assert f"<code>{prior}</code>" in section  # who keeps it meanwhile
    assert 'data-testid="registrant-change-fields">email<' in section
    expires = (start + timedelta(days=7)).strftime("%Y-%m-%d %H:%M UTC")
    assert f"by {expires}" in section
    confirmed = section.split('data-testid="confirmed-prior">', 1)[1].split("</dd>", 1)[0]
    assert "prior-web@example.com" in html.unescape(confirmed)
    assert f"confirmed {start:%Y-%m-%d %H:%M} UTC through Designated Agent {agent_id}" in confirmed
    waiting = section.split('data-testid="confirmed-new">', 1)[1].split("</dd>", 1)[0]
    assert "new-web@example.com" in html.unescape(waiting)
    assert "not confirmed yet" in waiting
    assert f"/ui/registrant-changes/{change['id']}/cancel" in section
    assert 'data-testid="transfer-lock">none' in shown

    # The contact page of each party lists it, saying which side the contact is on.
    for handle, words in (
        (owner["handle"], f"the new registrant, replacing <code>{prior}</code>"),
        (prior, f"the prior registrant, to be replaced by <code>{owner['handle']}</code>"),
    ):
        listed = (await client.get(f"/ui/contacts/{handle}")).text
        assert 'data-testid="registrant-changes"' in listed
        item = listed.split('data-testid="registrant-changes"', 1)[1].split("</ul>", 1)[0]
        assert 'href="/ui/domains/cor-web.com"' in item
        assert words in item
        assert "(email)" in item
        assert "confirmed by prior" in item

    cancel = f"/ui/registrant-changes/{change['id']}/cancel"
    assert (await client.post(cancel, data={})).status_code == 403  # no CSRF: nothing happens
    # Another account's user cancels nothing of ours: not found.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as stranger:
        csrf = await sign_in(stranger, await make_user(db, other_team.slug))
        assert (await stranger.post(cancel, data={"csrf_token": csrf})).status_code == 404
        assert "cor-web.com" not in (await stranger.get(f"/ui/contacts/{prior}")).text
    read = await client.get(f"/api/v1/registrant-changes/{change['id']}", headers=team.headers)
    assert read.json()["data"]["state"] == "pending"

    cancelled = await client.post(cancel, data={"csrf_token": signed_in})
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == "/ui/domains/cor-web.com?cancelled=1"
    shown = (await client.get(cancelled.headers["location"])).text
    assert 'data-testid="registrant-change-cancelled"' in shown
    assert 'data-testid="registrant-change"' not in shown
    assert (
        'data-testid="registrant-changes"' not in (await client.get(f"/ui/contacts/{prior}")).text
    )
    read = await client.get(f"/api/v1/registrant-changes/{change['id']}", headers=team.headers)
    assert read.json()["data"]["state"] == "cancelled"
    again = await client.post(cancel, data={"csrf_token": signed_in})
    assert again.status_code == 409
    assert "only a pending one can be cancelled" in again.text
    for bad in ("0", "abc", str(2**64)):
        missing = await client.post(
            f"/ui/registrant-changes/{bad}/cancel", data={"csrf_token": signed_in}
        )
        assert missing.status_code == 404


async def test_the_domain_page_shows_the_transfer_lock_until_its_day(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    await agent(client, team, "both")  # applied at once, with the 60-day lock
    user = await make_user(db, team.slug)
    owner = await create_contact(client, team, email="locked-web@example.com")
    await add_domain(client, team, "lock-web.com", owner=owner["handle"])
    start = datetime.now(UTC)
    with clock.use(clock.FrozenClock(start)) as frozen:
        edited = await client.patch(
            f"/api/v1/contacts/{owner['handle']}",
            json={"email": "locked-new@example.com"},
            headers=team.headers,
        )
        assert edited.status_code == 200, edited.text
        page = "/ui/domains/lock-web.com"
        until = (start + timedelta(days=60)).strftime("%Y-%m-%d %H:%M UTC")
        await sign_in(client, user)
        shown = (await client.get(page)).text
        assert (
            f'data-testid="transfer-lock">transfers to another registrar locked until {until}'
            in (shown)
        )
        assert 'data-testid="registrant-change"' not in shown  # applied, nothing pending
        # Sessions last hours: the user signs in again 60 days on.
        frozen.advance(timedelta(days=60) - timedelta(seconds=1))
        await sign_in(client, user)
        assert f"locked until {until}" in (await client.get(page)).text
        frozen.advance(timedelta(seconds=1))
        assert 'data-testid="transfer-lock">none' in (await client.get(page)).text
