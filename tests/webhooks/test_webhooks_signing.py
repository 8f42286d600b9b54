"""Signatures, the replay window and URL safety (no network beyond local name lookups)."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from sessions_app.webhooks.services import (
    UnsafeWebhookUrl,
    sign_payload,
    verify_signature,
    webhook_url_check,
)

SECRET = "whsec_test"
BODY = b'{"event":"session.ended","id":"x"}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_payload(SECRET, 1700000000, BODY) == f"sha256={expected}"
    assert sign_payload(SECRET, "1700000000", BODY.decode()) == f"sha256={expected}"


def test_a_fresh_signed_request_verifies():
    now = time.time()
    timestamp = int(now)
    signature = sign_payload(SECRET, timestamp, BODY)
    assert verify_signature(SECRET, str(timestamp), BODY, signature, now=now)


@pytest.mark.parametrize(
    ("secret", "body", "signature_of"),
    [
        ("whsec_other", BODY, BODY),  # wrong secret
        (SECRET, BODY + b" ", BODY),  # body changed after signing
        (SECRET, BODY, b"something else"),  # signature of another body
    ],
)
def test_a_tampered_request_is_rejected(secret, body, signature_of):
    timestamp = int(time.time())
    assert not verify_signature(
        secret, timestamp, body, sign_payload(SECRET, timestamp, signature_of)
    )


def test_a_signature_cannot_be_moved_to_another_timestamp():
    timestamp = int(time.time())
    signature = sign_payload(SECRET, timestamp, BODY)
    assert not verify_signature(SECRET, timestamp + 1, BODY, signature)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(0, True), (299, True), (300, True), (301, False), (3600, False), (-299, True), (-301, False)],
)
def test_replay_protection_window(age, accepted):
    """A captured request replayed more than ``tolerance`` seconds later is rejected; so is
    one claiming to come from the future."""
    sent_at = 1_700_000_000
    signature = sign_payload(SECRET, sent_at, BODY)
    assert verify_signature(SECRET, sent_at, BODY, signature, now=sent_at + age) is accepted
    assert not verify_signature(SECRET, sent_at, BODY, signature, tolerance=10, now=sent_at + 11)


@pytest.mark.parametrize("timestamp", ["", "abc", None, "1.5e9x"])
def test_a_malformed_timestamp_is_rejected(timestamp):
    assert not verify_signature(SECRET, timestamp, BODY, sign_payload(SECRET, 0, BODY))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_private_addresses_are_refused_by_default(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(UnsafeWebhookUrl, match="private, loopback or reserved"):
        webhook_url_check(url)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "gopher://x", "example.com/hook", "http:///x"],
)
def test_only_http_and_https_urls_are_accepted(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(UnsafeWebhookUrl):
        webhook_url_check(url)


def test_credentials_in_the_url_are_refused(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(UnsafeWebhookUrl, match="Credentials"):
        webhook_url_check("https://user:pw@127.0.0.1/hook")


def test_the_setting_allows_loopback_and_public_addresses_pass(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    webhook_url_check("http://127.0.0.1:8000/hook")
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    webhook_url_check("https://93.184.215.14/hook")  # a literal public address: no DNS needed
