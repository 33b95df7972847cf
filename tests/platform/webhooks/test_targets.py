"""URL rules and the SSRF guard."""

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from autoledger.platform.webhooks import service, targets
from autoledger.platform.webhooks.errors import InvalidUrl, TargetNotAllowed


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "example.com/hook",
        "https://user:pass@example.com/hook",
        "https://example.com/hook#frag",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_parse_url_refuses(url: str) -> None:
    with pytest.raises(targets.UrlError):
        targets.parse_url(url)


def test_parse_url_keeps_http_and_https() -> None:
    assert str(targets.parse_url("https://hooks.example.com:8443/in?x=1")) == (
        "https://hooks.example.com:8443/in?x=1"
    )
    assert targets.parse_url("http://example.com").host == "example.com"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "10.1.2.3",  # RFC 1918
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "100.64.0.1",  # CGNAT
        "0.0.0.0",  # noqa: S104 - unspecified
        "224.0.0.1",  # multicast
        "224.0.1.1",  # globally scoped multicast is still multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",  # ULA
        "fe80::1",  # link-local
        "ff02::1",  # multicast
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not targets.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert targets.is_public(ipaddress.ip_address(address))


async def test_loopback_is_refused_unless_private_targets_are_allowed() -> None:
    with pytest.raises(targets.TargetRefused):
        await targets.check_target("http://127.0.0.1:8080/hook", allow_private=False)
    with pytest.raises(targets.TargetRefused):
        await targets.check_target("http://[::1]/hook", allow_private=False)
    target = await targets.check_target("http://127.0.0.1:8080/hook", allow_private=True)
    assert target.addresses == (ipaddress.ip_address("127.0.0.1"),)


async def test_localhost_by_name_is_refused() -> None:
    with pytest.raises(targets.TargetRefused):
        await targets.check_target("http://localhost/hook", allow_private=False)


def _fake_dns(answers: dict[str, list[str]]) -> Any:
    async def getaddrinfo(host: str, *_args: Any, **_kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
            for a in answers[host]
        ]

    return getaddrinfo


async def test_a_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns = {"internal.example.com": ["10.0.0.7"], "mixed.example.com": ["93.184.216.34", "10.0.0.7"]}
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _fake_dns(dns))
    with pytest.raises(targets.TargetRefused, match=r"10\.0\.0\.7"):
        await targets.check_target("https://internal.example.com/hook", allow_private=False)
    # every address counts: one private answer is enough to refuse
    with pytest.raises(targets.TargetRefused):
        await targets.check_target("https://mixed.example.com/hook", allow_private=False)


async def test_a_public_name_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    dns = {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _fake_dns(dns))
    target = await targets.check_target("https://hooks.example.com/in", allow_private=False)
    assert [str(a) for a in target.addresses] == dns["hooks.example.com"]


async def test_an_unresolvable_name_is_an_invalid_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _fake_dns({}))
    with pytest.raises(InvalidUrl) as caught:
        await service.check_url("https://nowhere.invalid/hook", allow_private=False)
    assert caught.value.errors[0].loc == "body.url"


async def test_service_errors_name_the_url_field() -> None:
    with pytest.raises(InvalidUrl) as invalid:
        await service.check_url("ftp://example.com/hook", allow_private=True)
    assert invalid.value.errors[0].loc == "body.url"
    with pytest.raises(TargetNotAllowed) as refused:
        await service.check_url("http://169.254.169.254/latest/meta-data", allow_private=False)
    assert refused.value.errors[0].loc == "body.url"
    assert refused.value.status == 422
