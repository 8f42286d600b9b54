"""The outbound-URL policy (tenants.outbound): every address class, IPv6 forms, the
deployment's allow-lists, DNS rebinding between save and connect, and no redirects, for
each client the platform uses (http.client, httpx, requests)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tenants import outbound
from tenants.outbound import OutboundURLRefused
from tenants.secrets import platform_key_refusal, url_matches_prefix
from tests.fakes.recording_server import RecordingServer

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.0.10", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "private"),  # documentation range
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:10.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("2002:7f00:1::1", "6to4"),
    ("2002:808:808::1", "6to4"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("64:ff9b::7f00:1", "NAT64"),
    ("64:ff9b::808:808", "NAT64"),
    ("64:ff9b:1::1", "NAT64"),
    ("2001:db8::1", "private"),  # documentation range
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"]


@pytest.fixture(autouse=True)
def strict(settings):
    """The production defaults: nothing allowed beyond public addresses."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.OUTBOUND_ALLOWED_HOSTS = []
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    settings.OPENAI_BASE_URL = ""
    return settings


@pytest.fixture
def resolver(monkeypatch):
    """``resolver["name"] = "10.0.0.1"`` answers DNS for that name (others resolve as usual)."""
    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port or 0, 0, 0) if family == socket.AF_INET6 else (address, port)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_every_special_address_class_is_refused(address, kind):
    reason = outbound.address_refusal(address)
    assert reason is not None and kind.lower() in reason.lower(), reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert outbound.address_refusal(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://169.254.169.254/latest/meta-data",
        "http://0x7f000001/",  # hex and decimal forms resolve to loopback
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://10.0.0.1/",
        "http://localhost:5432/",
    ],
)
def test_urls_reaching_refused_addresses_are_refused_at_save(url):
    with pytest.raises(OutboundURLRefused, match="private, loopback or reserved"):
        outbound.check_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "http and https"),
        ("file:///etc/passwd", "http and https"),
        ("gopher://127.0.0.1:70/", "http and https"),
        ("http:///x", "no host"),
        ("https://user:pw@93.184.215.14/", "Credentials"),
        ("https://sk-abc@93.184.215.14/", "Credentials"),
        ("http://93.184.215.14:99999/", "invalid port"),
    ],
)
def test_url_form_rules(url, message):
    with pytest.raises(OutboundURLRefused, match=message):
        outbound.check_url(url)


def test_deployment_allow_lists(strict, resolver):
    resolver["llm.internal"] = "10.0.0.5"
    resolver["a.corp.example"] = "10.0.0.6"
    with pytest.raises(OutboundURLRefused):
        outbound.check_url("http://llm.internal/v1")
    strict.OUTBOUND_ALLOWED_HOSTS = ["llm.internal", "*.corp.example"]
    outbound.check_url("http://llm.internal/v1")
    outbound.check_url("http://a.corp.example/v1")
    with pytest.raises(OutboundURLRefused):
        outbound.check_url("http://10.0.0.5/v1")  # the name is allowed, not the address
    strict.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/24"]
    outbound.check_url("http://10.0.0.5/v1")
    with pytest.raises(OutboundURLRefused):
        outbound.check_url("http://10.0.1.5/v1")
    strict.OUTBOUND_ALLOWED_NETWORKS = []
    strict.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True  # the deprecated alias: everything
    outbound.check_url("http://10.0.1.5/v1")


def test_a_name_with_any_refused_address_is_refused(monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(OutboundURLRefused, match=r"127\.0\.0\.1"):
        outbound.check_url("https://mixed.example/")


# --- DNS rebinding: the answer changes between the save-time check and the connection ----


@pytest.fixture
def listener():
    with RecordingServer() as server:
        yield server


def test_rebinding_is_caught_at_connect_time_http_client(resolver, listener):
    resolver["rebind.example"] = "93.184.215.14"
    url = f"http://rebind.example:{listener.port}/hook"
    outbound.check_url(url)  # saved while the name pointed at a public address
    resolver["rebind.example"] = "127.0.0.1"
    connection = outbound.http_connection(url, timeout=2)
    with pytest.raises(OutboundURLRefused, match=r"127\.0\.0\.1"):
        connection.request("POST", "/hook", body=b"{}", headers={"Authorization": "Bearer k"})
    assert listener.state.connections == 0


def test_rebinding_is_caught_at_connect_time_httpx(resolver, listener):
    resolver["rebind.example"] = "93.184.215.14"
    url = f"http://rebind.example:{listener.port}/v1/models"
    outbound.check_url(url)
    resolver["rebind.example"] = "127.0.0.1"

    async def call():
        async with outbound.async_httpx_client() as client:
            await client.get(url, headers={"Authorization": "Bearer sk-platform"})

    with pytest.raises(OutboundURLRefused, match=r"127\.0\.0\.1"):
        asyncio.run(call())
    assert listener.state.connections == 0


def test_rebinding_is_caught_at_connect_time_requests(resolver, listener):
    resolver["rebind.example"] = "93.184.215.14"
    url = f"http://rebind.example:{listener.port}/v1/traces"
    outbound.check_url(url)
    resolver["rebind.example"] = "::1"
    with pytest.raises(OutboundURLRefused, match="::1"):
        outbound.requests_session().post(url, data=b"x", headers={"Authorization": "Basic x"})
    assert listener.state.connections == 0


def test_the_vetted_address_is_the_one_connected_to(strict, resolver, listener):
    """Allowed (here: loopback by range), the connection goes to the address just checked."""
    strict.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    resolver["svc.example"] = "127.0.0.1"

    async def call():
        async with outbound.async_httpx_client() as client:
            return await client.get(f"http://svc.example:{listener.port}/ok")

    assert asyncio.run(call()).status_code == 200
    assert listener.state.requests[0].headers["Host"] == f"svc.example:{listener.port}"
    response = outbound.requests_session().get(f"http://svc.example:{listener.port}/ok")
    assert response.status_code == 200 and len(listener.state.requests) == 2


# --- Redirects are never followed ---------------------------------------------------------


def test_redirects_are_not_followed(strict):
    strict.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with RecordingServer() as first, RecordingServer() as second:
        first.state.status = 307
        first.state.location = f"{second.url}/elsewhere"

        async def call():
            async with outbound.async_httpx_client() as client:
                return await client.post(f"{first.url}/v1/chat/completions", json={})

        assert asyncio.run(call()).status_code == 307
        session = outbound.requests_session()
        assert session.post(f"{first.url}/v1/traces", data=b"x").status_code == 307
        assert session.get(f"{first.url}/v1/traces", allow_redirects=True).status_code == 307
        connection = outbound.http_connection(f"{first.url}/hook", timeout=2)
        connection.request("POST", "/hook", body=b"{}")
        assert connection.getresponse().status == 307
        assert len(first.state.requests) == 4
        assert second.state.connections == 0


# --- Where platform keys may go -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "prefix", "matches"),
    [
        ("http://127.0.0.1:5555/v1", "http://127.0.0.1", True),  # no port: any port
        ("http://127.0.0.1:5555/v1", "http://127.0.0.1:5555", True),
        ("http://127.0.0.1:5555/v1", "http://127.0.0.1:80", False),
        ("https://api.openai.com/v1", "https://api.openai.com", True),
        ("https://api.openai.com/v1/chat", "https://api.openai.com/v1", True),
        ("https://api.openai.com/v10", "https://api.openai.com/v1", False),
        ("https://api.openai.com.evil.example/v1", "https://api.openai.com", False),
        ("http://api.openai.com/v1", "https://api.openai.com", False),
        ("https://user@api.openai.com/v1", "https://api.openai.com", False),
        ("https://API.OpenAI.com/v1", "https://api.openai.com", True),
    ],
)
def test_platform_key_prefixes(url, prefix, matches):
    assert url_matches_prefix(url, prefix) is matches


def test_platform_key_refusal_names_the_field_and_why(strict):
    assert platform_key_refusal(provider="openai", url=None, field="llm_config.base_url") is None
    assert (
        platform_key_refusal(
            provider="openai", url="https://api.openai.com/v1", field="llm_config.base_url"
        )
        is None
    )
    refusal = platform_key_refusal(
        provider="openai", url="http://127.0.0.1:9/v1", field="llm_config.base_url"
    )
    assert str(refusal).startswith(
        "llm_config.base_url: a custom endpoint needs the tenant's own openai credential; "
        "platform keys are only sent to https://api.openai.com"
    )
    strict.PLATFORM_KEY_ALLOWED_BASE_URLS = ["http://127.0.0.1"]
    assert platform_key_refusal(provider="openai", url="http://127.0.0.1:9/v1", field="x") is None
    strict.LANGFUSE_HOST = "https://lf.example.com"
    assert (
        platform_key_refusal(provider="langfuse", url="https://lf.example.com", field="x") is None
    )
    assert platform_key_refusal(provider="langfuse", url="https://other.example", field="x")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OUTBOUND_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network"),
        ("PLATFORM_KEY_ALLOWED_BASE_URLS", "llm.internal:8000"),
    ],
)
def test_bad_outbound_settings_are_a_clear_start_up_error(name, value):
    from tests.test_settings_and_health import PRODUCTION_ENV, manage

    result = manage("check", env={**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert name in result.stderr
