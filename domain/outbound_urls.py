"""Which URLs given by users (vendors' webhooks) the platform may call (DESIGN.md).

Pure rules, no I/O. A URL is judged when it is set and again at every delivery: first its
text (`check_url`), then every address its host resolves to (`check_addresses`). The caller
resolves and then connects only to an address judged here, so a name whose answer changes
between the check and the connection cannot send the request anywhere else.

A server inside our network (loopback, private ranges, link-local, the cloud's metadata
service) must never be reachable through a URL someone else typed: that is request forgery.
Exact `host:port` pairs on the allowed list (FULFILLMENT_WEBHOOK_ALLOWED_HOSTS) skip the
address rules, so a developer can point a webhook at a local receiver.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from domain.errors import ValidationFailed

IPAddress = IPv4Address | IPv6Address
# Resolves (host, port) to IP addresses as text; raises OSError when it cannot.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

# vendor.webhook_url's column: a longer URL could not be stored.
MAX_URL_LENGTH = 500
DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud metadata services hand out credentials to whoever asks from inside.
METADATA_ADDRESSES = frozenset(
    ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer: a public-looking address answered inside Azure
    )
)
METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data"}
)
PRIVATE_NETWORKS = tuple(
    IPv4Network(text) if "." in text else IPv6Network(text)
    for text in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "fc00::/7",  # unique local
        "fec0::/10",  # site-local (deprecated, still routed by some stacks)
        "64:ff9b:1::/48",  # local-use NAT64
    )
)
THIS_NETWORK = IPv4Network("0.0.0.0/8")  # Linux connects 0.x.x.x to this very machine
NAT64 = IPv6Network("64:ff9b::/96")  # the last 32 bits are an IPv4 address behind a gateway
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


class ForbiddenUrl(ValidationFailed):
    """A URL (or the address its host resolves to) the platform refuses to call.
    `rule` names the rule that refused it."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    # Exact "host:port" pairs, lower case, IPv6 hosts in brackets (`parse_allowed_hosts`).
    allowed_hosts: frozenset[str] = frozenset()
    max_length: int = MAX_URL_LENGTH


@dataclass(frozen=True)
class OutboundTarget:
    scheme: str
    host: str  # lower case; an IPv6 address without its brackets
    port: int
    address: IPAddress | None  # the host, when it is an IP address
    exempt: bool  # on the allowed list: the address rules do not apply

    @property
    def authority(self) -> str:
        return authority(self.host, self.port)


def authority(host: str, port: int) -> str:
    host = host.lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_allowed_hosts(text: str | Iterable[str]) -> frozenset[str]:
    """`host:port` pairs, comma separated (or already split); refuses anything else, so a
    typo is found when the process starts, not when a webhook is refused."""
    items = text.split(",") if isinstance(text, str) else list(text)
    allowed = set()
    for item in (entry.strip() for entry in items):
        if not item:
            continue
        try:
            host, port = _split_authority(item)
            if port is None:
                raise ForbiddenUrl("port", "the port is missing")
            allowed.add(authority(_normal_host(host), port))
        except ForbiddenUrl as error:
            raise ValueError(f"{item!r} is not an exact host:port pair: {error.detail}") from None
    return frozenset(allowed)


def check_url(url: str, policy: OutboundPolicy) -> OutboundTarget:
    """The URL's target, if its text is acceptable; raises ForbiddenUrl naming the rule."""
    if len(url) > policy.max_length:
        raise ForbiddenUrl(
            "length", f"the URL is {len(url)} characters long; at most {policy.max_length}"
        )
    # Parsers disagree about spaces, controls and backslashes (one reads a host where the
    # other reads a path): refuse them rather than guess which parser the connection uses.
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F or c == "\\" for c in url):
        raise ForbiddenUrl(
            "characters",
            "the URL may hold only printable ASCII, without spaces or backslashes "
            "(percent-encode the rest, write international names in punycode)",
        )
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if not separator or scheme not in allowed:
        written = " or ".join(f"{name}://" for name in allowed)
        raise ForbiddenUrl("scheme", f"the URL must start with {written}")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in netloc:
        raise ForbiddenUrl("userinfo", "the URL must not carry a user name or password (user@)")
    host, port = _split_authority(netloc)
    if port is None:
        port = DEFAULT_PORTS[scheme]
    return check_host(host, port, policy, scheme=scheme)


def check_host(
    host: str, port: int, policy: OutboundPolicy, *, scheme: str = "https"
) -> OutboundTarget:
    """Judge a host (IPv6 without brackets) and port as the URL or the connection names them."""
    if not 0 < port < 65536:
        raise ForbiddenUrl("port", f"the port {port} is out of range")
    host = _normal_host(host)
    exempt = authority(host, port) in policy.allowed_hosts
    address = _address_of(host)
    target = OutboundTarget(scheme, host, port, address, exempt)
    if exempt:
        return target
    if address is not None:
        judge_address(address)
        return target
    name = host.removesuffix(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise ForbiddenUrl("loopback", f"{host} names this machine (loopback)")
    if name in METADATA_NAMES:
        raise ForbiddenUrl("metadata", f"{host} names a cloud metadata service")
    return target


def check_addresses(target: OutboundTarget, addresses: Iterable[str]) -> tuple[IPAddress, ...]:
    """Every address the target's host resolved to, judged: one forbidden address refuses
    the whole name (it could be the one a later connection picks)."""
    found = tuple(dict.fromkeys(_resolved(text) for text in addresses))
    if not found:
        raise ForbiddenUrl("unresolvable", f"{target.host} resolves to no address")
    if not target.exempt:
        for address in found:
            judge_address(address, named=target.host)
    return found


async def vet_url(
    url: str, policy: OutboundPolicy, resolve: Resolver
) -> tuple[OutboundTarget, tuple[IPAddress, ...]]:
    """`check_url`, then resolve the host (through the injected resolver) and judge every
    address. The resolver's OSError is left to the caller (a name that does not exist and a
    DNS server that does not answer call for different answers)."""
    target = check_url(url, policy)
    if target.address is not None:
        return target, (target.address,)
    return target, check_addresses(target, await resolve(target.host, target.port))


def judge_address(address: IPAddress, named: str | None = None) -> None:
    """Raise ForbiddenUrl unless the address is a public one."""
    refusal = address_refusal(address)
    if refusal is not None:
        rule, why = refusal
        subject = f"{named} resolves to {address}" if named else f"{address}"
        raise ForbiddenUrl(rule, f"{subject}, {why}")


def address_refusal(address: IPAddress) -> tuple[str, str] | None:
    """(rule, reason) when the address must not be called, None when it is public."""
    if address in METADATA_ADDRESSES:
        return "metadata", "a cloud metadata service"
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            if inner is not None:
                return inner[0], f"which carries {embedded}, {inner[1]}"
            return None
    if address.is_unspecified or (isinstance(address, IPv4Address) and address in THIS_NETWORK):
        return "unspecified", "an unspecified address (this machine)"
    if address.is_loopback:
        return "loopback", "a loopback address (this machine)"
    if address.is_link_local:
        return "link_local", "a link-local address"
    if address.is_multicast:
        return "multicast", "a multicast address"
    if any(address in network for network in PRIVATE_NETWORKS):
        return "private", "a private address"
    if address.is_reserved:
        return "reserved", "a reserved address"
    if not address.is_global:
        return "not_global", "an address that is not publicly routable"
    return None


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one reaches in the end (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def _split_authority(netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        host, bracket, after = netloc[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise ForbiddenUrl("host", "an IPv6 address must be written in brackets: [::1]:8443")
        port_text = after[1:] if after else None
        if ":" not in host:
            raise ForbiddenUrl("host", f"[{host}] is not an IPv6 address")
    else:
        host, colon, port_text_or_empty = netloc.partition(":")
        port_text = port_text_or_empty if colon else None
    if not host:
        raise ForbiddenUrl("host", "the URL names no host")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not port_text.isascii() or len(port_text) > 5:
        raise ForbiddenUrl("port", f"the port {port_text!r} is not a number from 1 to 65535")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ForbiddenUrl("port", f"the port {port} is not a number from 1 to 65535")
    return host, port


def _normal_host(host: str) -> str:
    host = host.lower()
    if ":" in host:
        if "%" in host:
            raise ForbiddenUrl("host", "an IPv6 address must not carry a zone (%)")
        try:
            return str(IPv6Address(host))
        except ValueError:
            raise ForbiddenUrl("host", f"[{host}] is not an IPv6 address") from None
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        # Resolvers read 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 as 127.0.0.1: a number is
        # judged only in the one form every parser reads alike.
        try:
            return str(IPv4Address(host))
        except ValueError:
            raise ForbiddenUrl(
                "host_form",
                f"{host} is not an IPv4 address in canonical dotted-decimal form (a.b.c.d, "
                "no octal, hexadecimal or integer forms)",
            ) from None
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ForbiddenUrl("host", f"{host} is not a valid host name")
    return host


def _address_of(host: str) -> IPAddress | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _resolved(text: str) -> IPAddress:
    # A resolver may answer "fe80::1%eth0": the zone changes nothing about the judgement.
    try:
        return ip_address(text.split("%", 1)[0])
    except ValueError:
        raise ForbiddenUrl(
            "unresolvable", f"the resolver answered {text!r}, not an address"
        ) from None


__all__ = [
    "MAX_URL_LENGTH",
    "ForbiddenUrl",
    "IPAddress",
    "OutboundPolicy",
    "OutboundTarget",
    "Resolver",
    "address_refusal",
    "check_addresses",
    "check_host",
    "check_url",
    "judge_address",
    "parse_allowed_hosts",
    "vet_url",
]
