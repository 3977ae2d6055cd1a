"""Outbound URLs (vendors' webhooks): only public addresses, judged from the URL's text and
again from every address its host resolves to. Nothing here resolves or connects: names go
through a fake resolver."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from domain.errors import ErrorCode
from domain.outbound_urls import (
    MAX_URL_LENGTH,
    ForbiddenUrl,
    OutboundPolicy,
    OutboundTarget,
    check_addresses,
    check_url,
    parse_allowed_hosts,
    vet_url,
)

PRODUCTION = OutboundPolicy()
DEV = OutboundPolicy(allow_http=True)


def refusal(url: str, policy: OutboundPolicy = DEV) -> ForbiddenUrl:
    with pytest.raises(ForbiddenUrl) as refused:
        check_url(url, policy)
    return refused.value


class FakeResolver:
    """Answers from a table, and records what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host not in self.answers:
            raise OSError(f"no such name {host}")
        return self.answers[host]


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        # loopback, in every spelling
        ("http://127.0.0.1/hooks", "loopback"),
        ("http://127.8.9.10/hooks", "loopback"),
        ("http://[::1]/hooks", "loopback"),
        ("http://[0:0:0:0:0:0:0:1]/hooks", "loopback"),
        ("http://localhost/hooks", "loopback"),
        ("http://LOCALHOST./hooks", "loopback"),
        ("http://api.localhost/hooks", "loopback"),
        ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
        # private: RFC 1918, carrier-grade NAT, unique local IPv6
        ("http://10.0.0.1/hooks", "private"),
        ("http://172.16.5.4/hooks", "private"),
        ("http://172.31.255.255/hooks", "private"),
        ("http://192.168.1.1/hooks", "private"),
        ("http://100.64.0.1/hooks", "private"),
        ("http://100.127.255.254/hooks", "private"),
        ("http://[fc00::1]/hooks", "private"),
        ("http://[fd12:3456::1]/hooks", "private"),
        ("http://[::ffff:10.0.0.1]/hooks", "private"),
        ("http://[::ffff:192.168.0.1]/hooks", "private"),
        ("http://[64:ff9b::a00:1]/hooks", "private"),  # NAT64 to 10.0.0.1
        ("http://[2002:c0a8:101::]/hooks", "private"),  # 6to4 of 192.168.1.1
        # link-local
        ("http://169.254.1.1/hooks", "link_local"),
        ("http://[fe80::1]/hooks", "link_local"),
        ("http://[::ffff:169.254.1.1]/hooks", "link_local"),
        # cloud metadata services
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://Metadata.Google.Internal./computeMetadata/v1/", "metadata"),
        ("http://100.100.100.200/latest/meta-data/", "metadata"),
        # multicast, unspecified, reserved, not routable
        ("http://224.0.0.1/hooks", "multicast"),
        ("http://239.255.255.250/hooks", "multicast"),
        ("http://[ff02::1]/hooks", "multicast"),
        ("http://0.0.0.0/hooks", "unspecified"),
        ("http://0.1.2.3/hooks", "unspecified"),
        ("http://[::]/hooks", "unspecified"),
        ("http://[::ffff:0.0.0.0]/hooks", "unspecified"),
        ("http://240.0.0.1/hooks", "reserved"),
        ("http://255.255.255.255/hooks", "reserved"),
        ("http://[::127.0.0.1]/hooks", "reserved"),  # IPv4-compatible (deprecated)
        ("http://192.0.2.10/hooks", "not_global"),  # documentation
        ("http://198.18.0.1/hooks", "not_global"),  # benchmarking
        ("http://[2001:db8::1]/hooks", "not_global"),
        # numbers that resolvers read as 127.0.0.1, in forms other than a.b.c.d
        ("http://2130706433/hooks", "host_form"),
        ("http://0x7f000001/hooks", "host_form"),
        ("http://0x7f.1/hooks", "host_form"),
        ("http://0177.0.0.1/hooks", "host_form"),
        ("http://127.1/hooks", "host_form"),
        ("http://127.0.0.01/hooks", "host_form"),
        ("http://127.0.0.1./hooks", "host_form"),
        ("http://example.0x10/hooks", "host_form"),
        # user information, and the parser confusions it is used for
        ("http://user:pass@127.0.0.1/hooks", "userinfo"),
        ("https://user:pass@hooks.example.com/hooks", "userinfo"),
        ("https://hooks.example.com@127.0.0.1/hooks", "userinfo"),
        ("https://hooks.example.com\\@127.0.0.1/hooks", "characters"),
        ("https://hooks.example.com /hooks", "characters"),
        ("https://hooks.example.com/\x00", "characters"),
        ("https://hooks.example.com/\n", "characters"),
        ("https://bücher.example/hooks", "characters"),
        # malformed hosts and ports
        ("https:///hooks", "host"),
        ("https://[::1/hooks", "host"),
        ("https://[not-v6]/hooks", "host"),
        ("https://[fe80::1%25eth0]/hooks", "host"),
        ("https://hooks..example.com/hooks", "host"),
        ("https://-hooks.example.com/hooks", "host"),
        ("https://hooks.example.com:0/hooks", "port"),
        ("https://hooks.example.com:65536/hooks", "port"),
        ("https://hooks.example.com:/hooks", "port"),
        ("https://hooks.example.com:+443/hooks", "port"),
        # schemes
        ("ftp://hooks.example.com/hooks", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme"),
        ("hooks.example.com/hooks", "scheme"),
    ],
)
def test_a_url_reaching_inside_the_network_or_written_ambiguously_is_refused_naming_its_rule(
    url: str, rule: str
) -> None:
    refused = refusal(url)

    assert refused.rule == rule
    assert refused.code == ErrorCode.VALIDATION_ERROR
    assert refused.extra == {"rule": rule}


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/fulfillment",
        "https://HOOKS.Example.com:8443/fulfillment?vendor=1#top",
        "https://hooks.example.com./fulfillment",
        "https://xn--bcher-kva.example/hooks",
        "https://my_hooks.example.com/hooks",
        "https://93.184.215.14/hooks",
        "https://8.8.8.8/hooks",
        "https://[2606:4700:4700::1111]/hooks",
        "https://[::ffff:8.8.8.8]/hooks",
        "https://100.63.255.255/hooks",  # just below carrier-grade NAT
        "https://172.32.0.1/hooks",  # just above 172.16.0.0/12
    ],
)
def test_a_public_https_url_is_accepted(url: str) -> None:
    target = check_url(url, PRODUCTION)

    assert target.scheme == "https"
    assert target.exempt is False


def test_the_target_is_the_host_in_lower_case_and_the_default_port_of_its_scheme() -> None:
    assert check_url("https://HOOKS.example.com/x", PRODUCTION) == OutboundTarget(
        "https", "hooks.example.com", 443, None, False
    )
    assert check_url("http://hooks.example.com/x", DEV).port == 80
    assert check_url("https://[2606:4700::1]:8443/x", PRODUCTION).host == "2606:4700::1"


def test_outside_dev_plain_http_is_refused_and_in_dev_it_is_accepted() -> None:
    assert refusal("http://hooks.example.com/x", PRODUCTION).rule == "scheme"
    assert refusal("http://hooks.example.com/x", PRODUCTION).detail == (
        "the URL must start with https://"
    )
    assert check_url("http://hooks.example.com/x", DEV).scheme == "http"


def test_a_url_as_long_as_the_column_is_accepted_and_one_character_more_is_refused() -> None:
    base = "https://hooks.example.com/"
    longest = base + "a" * (MAX_URL_LENGTH - len(base))

    assert check_url(longest, PRODUCTION).host == "hooks.example.com"
    refused = refusal(longest + "a", PRODUCTION)
    assert (refused.rule, refused.detail) == (
        "length",
        f"the URL is {MAX_URL_LENGTH + 1} characters long; at most {MAX_URL_LENGTH}",
    )


def test_an_allowed_host_port_pair_skips_the_address_rules_for_that_exact_pair_only() -> None:
    policy = OutboundPolicy(
        allow_http=True, allowed_hosts=parse_allowed_hosts("127.0.0.1:8080,[::1]:9000")
    )

    assert check_url("http://127.0.0.1:8080/hooks", policy).exempt is True
    assert check_url("http://[::1]:9000/hooks", policy).exempt is True
    assert check_url("http://[0::1]:9000/hooks", policy).exempt is True
    assert refusal("http://127.0.0.1:8081/hooks", policy).rule == "loopback"
    assert refusal("http://127.0.0.1/hooks", policy).rule == "loopback"
    assert refusal("http://[::1]:8080/hooks", policy).rule == "loopback"
    # The other rules still apply to an allowed pair.
    assert refusal("http://user@127.0.0.1:8080/hooks", policy).rule == "userinfo"
    assert refusal("http://2130706433:8080/hooks", policy).rule == "host_form"


def test_an_allowed_pair_is_still_held_to_https_outside_dev() -> None:
    policy = OutboundPolicy(allowed_hosts=parse_allowed_hosts("localhost:8443"))

    assert check_url("https://localhost:8443/hooks", policy).exempt is True
    assert refusal("http://localhost:8443/hooks", policy).rule == "scheme"


def test_the_allowed_list_is_read_as_exact_pairs_and_refuses_anything_else() -> None:
    assert parse_allowed_hosts("") == frozenset()
    assert parse_allowed_hosts(" 127.0.0.1:8080 , LocalHost:9000,[0:0::1]:7000,") == frozenset(
        {"127.0.0.1:8080", "localhost:9000", "[::1]:7000"}
    )
    for bad in ("127.0.0.1", "localhost:", "::1:8080", "host:99999", "*:8080", "2130706433:80"):
        with pytest.raises(ValueError, match="is not an exact host:port pair"):
            parse_allowed_hosts(bad)


@pytest.mark.parametrize(
    ("addresses", "rule"),
    [
        (["127.0.0.1"], "loopback"),
        (["10.1.2.3"], "private"),
        (["169.254.169.254"], "metadata"),
        (["fd00:ec2::254"], "metadata"),
        (["fe80::1%eth0"], "link_local"),
        (["::ffff:127.0.0.1"], "loopback"),
        # One bad answer among good ones refuses the name: a connection could pick it.
        (["93.184.215.14", "192.168.0.10"], "private"),
        (["2606:4700::1", "::1"], "loopback"),
        ([], "unresolvable"),
        (["not-an-address"], "unresolvable"),
    ],
)
def test_a_name_resolving_to_any_forbidden_address_is_refused(
    addresses: list[str], rule: str
) -> None:
    target = check_url("https://hooks.example.com/x", PRODUCTION)

    with pytest.raises(ForbiddenUrl) as refused:
        check_addresses(target, addresses)

    assert refused.value.rule == rule
    if addresses and rule != "unresolvable":
        assert refused.value.detail.startswith("hooks.example.com resolves to ")


def test_the_addresses_of_an_allowed_pair_are_not_judged() -> None:
    policy = OutboundPolicy(allowed_hosts=parse_allowed_hosts("receiver.test:8443"))
    target = check_url("https://receiver.test:8443/x", policy)

    assert [str(a) for a in check_addresses(target, ["127.0.0.1", "127.0.0.1"])] == ["127.0.0.1"]


async def test_vetting_a_name_resolves_it_and_judges_what_it_resolves_to() -> None:
    resolve = FakeResolver(
        {"hooks.example.com": ["93.184.215.14"], "rebind.example.com": ["169.254.169.254"]}
    )

    target, addresses = await vet_url("https://hooks.example.com:8443/x", PRODUCTION, resolve)
    with pytest.raises(ForbiddenUrl) as refused:
        await vet_url("https://rebind.example.com/x", PRODUCTION, resolve)

    assert (target.host, [str(a) for a in addresses]) == ("hooks.example.com", ["93.184.215.14"])
    assert refused.value.rule == "metadata"
    assert refused.value.detail == (
        "rebind.example.com resolves to 169.254.169.254, a cloud metadata service"
    )
    assert resolve.asked == [("hooks.example.com", 8443), ("rebind.example.com", 443)]


async def test_vetting_an_ip_literal_or_a_refused_url_asks_no_resolver() -> None:
    resolve = FakeResolver({})

    _, addresses = await vet_url("https://8.8.8.8/x", PRODUCTION, resolve)
    with pytest.raises(ForbiddenUrl):
        await vet_url("https://metadata.google.internal/x", PRODUCTION, resolve)

    assert [str(a) for a in addresses] == ["8.8.8.8"]
    assert resolve.asked == []


async def test_a_name_that_does_not_resolve_is_left_to_the_caller_as_the_resolvers_error() -> None:
    with pytest.raises(OSError, match="no such name"):
        await vet_url("https://nowhere.example.com/x", PRODUCTION, FakeResolver({}))
