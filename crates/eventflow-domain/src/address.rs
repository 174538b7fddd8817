//! Which IP addresses a webhook delivery may connect to: the server-side request forgery
//! (SSRF) policy.
//!
//! Endpoint URLs are chosen by users, so without a policy a delivery could reach the
//! service's own network: a database, an admin port, or the cloud metadata service that
//! hands out credentials. [`forbidden_reason`] is the pure decision for one address;
//! [`AddressPolicy`] adds the operator's allow-list (`EVENTFLOW_ENDPOINT_ALLOW_NETS`), which
//! lets local development and tests deliver to `127.0.0.1`.
//!
//! The decision must be applied to the address actually connected to, after DNS resolution
//! and on every connection, because a hostname can resolve to a public address when an
//! endpoint is saved and to a private one when it is delivered to (DNS rebinding). Doing
//! that in the HTTP client's connector is the dispatcher's job.
//!
//! Refused by default, beyond the obvious private, loopback and link-local ranges:
//!
//! - every range that is not reachable on the public internet and has no legitimate webhook
//!   receiver: CGNAT `100.64.0.0/10` (which also holds some clouds' metadata services),
//!   `0.0.0.0/8`, the IETF protocol assignments `192.0.0.0/24` and `2001::/23` (taken whole,
//!   although a few anycast addresses in them are global), benchmarking `198.18.0.0/15` and
//!   `2001:2::/48`, the documentation ranges (`192.0.2.0/24`, `198.51.100.0/24`,
//!   `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`), multicast, broadcast, `240.0.0.0/4`, and
//!   every IPv6 address outside the global unicast block `2000::/3`;
//! - IPv6 forms that carry an IPv4 address are judged by that address: IPv4-mapped
//!   `::ffff:a.b.c.d`, the deprecated IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and
//!   6to4 `2002::/16`; the local-use NAT64 prefix `64:ff9b:1::/48` and Teredo `2001::/32`
//!   are refused outright, since where they lead depends on local translators;
//! - cloud metadata and credential addresses (`169.254.169.254`, ECS's `169.254.170.2`,
//!   `fd00:ec2::254` and a few more) are named "cloud metadata", so a refusal in the logs
//!   says what was at stake; an allow-list entry covering them still lets them through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Re-exported so configuration code can build an [`AddressPolicy`] without naming the crate.
pub use ipnet::IpNet;

use crate::error::{DomainError, clip};

const CLOUD_METADATA: &str = "cloud metadata";
const PRIVATE: &str = "private network";
const LOOPBACK: &str = "loopback";
const LINK_LOCAL: &str = "link-local";
const UNSPECIFIED: &str = "unspecified address";
const MULTICAST: &str = "multicast";
const RESERVED: &str = "reserved";
const DOCUMENTATION: &str = "documentation network";
const BENCHMARKING: &str = "benchmarking network";
const IETF_PROTOCOL: &str = "ietf protocol assignment";

/// Metadata and credential services reachable from inside a cloud instance or task: EC2,
/// GCP and Azure IMDS, ECS task credentials, EKS Pod Identity, Oracle Cloud and Alibaba Cloud.
/// Their ranges are refused anyway; naming them makes the log say what was at stake.
const METADATA_V4: [Ipv4Addr; 5] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(192, 0, 0, 192),
    Ipv4Addr::new(100, 100, 100, 200),
];

/// EC2 IMDS and EKS Pod Identity over IPv6.
const METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
];

/// Returns why a delivery must not connect to `ip`, or `None` when it may.
///
/// The reason is a short lowercase phrase such as `private network` or `cloud metadata`;
/// for an IPv6 address that embeds an IPv4 address it is the embedded address's reason.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        _ if METADATA_V4.contains(&ip) => CLOUD_METADATA,
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => UNSPECIFIED,
        (10, _, _) => PRIVATE,
        (100, 64..=127, _) => "shared address space (carrier-grade nat)",
        (127, _, _) => LOOPBACK,
        (169, 254, _) => LINK_LOCAL,
        (172, 16..=31, _) => PRIVATE,
        (192, 0, 0) => IETF_PROTOCOL,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => DOCUMENTATION,
        (192, 168, _) => PRIVATE,
        (198, 18..=19, _) => BENCHMARKING,
        (224..=239, _, _) => MULTICAST,
        (240..=255, _, _) => RESERVED,
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(UNSPECIFIED);
    }
    if ip.is_loopback() {
        return Some(LOOPBACK);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) put the IPv4 address in
    // the last 32 bits; a NAT64 gateway would connect to it on our behalf.
    if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if METADATA_V6.contains(&ip) {
        return Some(CLOUD_METADATA);
    }
    let reason = match s {
        [0x64, 0xff9b, 1, ..] => "local-use nat64",
        [0x100, 0, 0, 0, ..] => "discard-only",
        // 6to4 carries the IPv4 address in bits 16..48; a relay would forward to it.
        [0x2002, high, low, ..] => return forbidden_v4(embedded_v4(high, low)),
        [0x2001, 0, ..] => "teredo tunnel",
        [0x2001, 2, 0, ..] => BENCHMARKING,
        [0x2001, 0..=0x1ff, ..] => IETF_PROTOCOL,
        [0x2001, 0xdb8, ..] => DOCUMENTATION,
        [0x3fff, 0..=0x0fff, ..] => DOCUMENTATION,
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique local address",
        [first, ..] if first & 0xffc0 == 0xfe80 => LINK_LOCAL,
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local",
        [first, ..] if first & 0xff00 == 0xff00 => MULTICAST,
        // Only 2000::/3 is allocated for global unicast; the rest is reserved by IANA.
        [first, ..] if first & 0xe000 != 0x2000 => RESERVED,
        _ => return None,
    };
    Some(reason)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// The address rules of outbound deliveries: [`forbidden_reason`] plus the operator's
/// allow-list.
///
/// An address inside an `allow` network is accepted even though it would be refused; the
/// default (empty) policy refuses every forbidden address. An IPv4-mapped IPv6 address
/// (`::ffff:127.0.0.1`) matches IPv4 entries and an IPv4 address matches `::ffff:…` entries,
/// since both name the same IPv4 host. NAT64 and 6to4 forms do not: they lead to a
/// translator, not to the allowed host.
///
/// It deserialises from the same comma-separated text as [`AddressPolicy::parse_allow_list`],
/// so every service reads its allow-list setting through this one parser.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct AddressPolicy {
    /// Networks that deliveries may reach although they are forbidden by default.
    pub allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Parses comma-separated CIDRs such as `127.0.0.0/8, ::1/128`, trimming spaces.
    ///
    /// A bare address counts as `/32` or `/128`. Host bits are cleared, so `10.1.2.3/8`
    /// means `10.0.0.0/8`. Blank input is an empty list; an empty item between commas is an
    /// error, as is any item that is not an address or CIDR, and the error quotes it.
    pub fn parse_allow_list(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Ok(Self::default());
        }
        let allow = raw
            .split(',')
            .map(|item| parse_allow_entry(item.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { allow })
    }

    /// Accepts `ip` when it is not forbidden or lies in an allowed network.
    pub fn check(&self, ip: IpAddr) -> Result<(), RefusedAddress> {
        match forbidden_reason(ip) {
            None => Ok(()),
            Some(_) if self.allows(ip) => Ok(()),
            Some(reason) => Err(RefusedAddress { ip, reason }),
        }
    }

    fn allows(&self, ip: IpAddr) -> bool {
        let twin = match ip {
            IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        };
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || twin.is_some_and(|twin| net.contains(&twin)))
    }
}

impl TryFrom<String> for AddressPolicy {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse_allow_list(&raw)
    }
}

fn parse_allow_entry(item: &str) -> Result<IpNet, DomainError> {
    let invalid = |reason: &str| DomainError::InvalidAllowListEntry {
        raw: clip(item),
        reason: reason.to_owned(),
    };
    if item.is_empty() {
        return Err(invalid("empty entry"));
    }
    if item.contains('/') {
        return item
            .parse::<IpNet>()
            .map(|net| net.trunc())
            .map_err(|_| invalid("not an IP network"));
    }
    item.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| invalid("not an IP address"))
}

/// A delivery target address refused by an [`AddressPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("address {ip} is refused: {reason}")]
pub struct RefusedAddress {
    /// The address that was to be connected to.
    pub ip: IpAddr,
    /// Why it is refused, as returned by [`forbidden_reason`].
    pub reason: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn forbidden_addresses_are_refused_with_their_reason() {
        let cases = [
            ("169.254.169.254", "cloud metadata"),
            ("169.254.0.1", "link-local"),
            ("10.0.0.1", "private network"),
            ("10.255.255.255", "private network"),
            ("172.16.0.1", "private network"),
            ("172.31.255.254", "private network"),
            ("192.168.1.1", "private network"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("100.64.0.1", "shared address space (carrier-grade nat)"),
            ("100.100.100.200", "cloud metadata"),
            (
                "100.100.100.201",
                "shared address space (carrier-grade nat)",
            ),
            (
                "100.127.255.255",
                "shared address space (carrier-grade nat)",
            ),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("0.0.0.0", "unspecified address"),
            ("0.1.2.3", "unspecified address"),
            ("240.0.0.1", "reserved"),
            ("198.18.0.1", "benchmarking network"),
            ("198.19.255.255", "benchmarking network"),
            ("192.0.0.8", "ietf protocol assignment"),
            ("192.0.0.192", "cloud metadata"),
            ("192.0.0.193", "ietf protocol assignment"),
            ("169.254.170.2", "cloud metadata"),
            ("169.254.170.23", "cloud metadata"),
            ("fd00:ec2::23", "cloud metadata"),
            ("192.0.2.10", "documentation network"),
            ("198.51.100.7", "documentation network"),
            ("203.0.113.99", "documentation network"),
            ("::1", "loopback"),
            ("::", "unspecified address"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private network"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("::10.1.2.3", "private network"),
            ("::0.0.0.2", "unspecified address"),
            ("64:ff9b::a00:1", "private network"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata"),
            ("64:ff9b:1::1", "local-use nat64"),
            ("2002:a00:1::1", "private network"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "cloud metadata"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fec0::1", "site-local"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fd00:ec2::253", "unique local address"),
            ("fc00::1", "unique local address"),
            ("fdff:ffff::1", "unique local address"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("100::1", "discard-only"),
            ("2001::1", "teredo tunnel"),
            ("2001:2::1", "benchmarking network"),
            ("2001:10::1", "ietf protocol assignment"),
            ("2001:1ff::1", "ietf protocol assignment"),
            ("2001:db8::1", "documentation network"),
            ("3fff::1", "documentation network"),
            ("4000::1", "reserved"),
            ("1::1", "reserved"),
            ("5f00::1", "reserved"),
        ];
        for (raw, expected) in cases {
            assert_eq!(forbidden_reason(ip(raw)), Some(expected), "{raw}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let cases = [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450::1",
            "2001:200::1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "3fff:1000::1",
        ];
        for raw in cases {
            assert_eq!(forbidden_reason(ip(raw)), None, "{raw}");
            assert_eq!(AddressPolicy::default().check(ip(raw)), Ok(()), "{raw}");
        }
    }

    #[test]
    fn loopback_is_refused_unless_allow_listed() {
        let refused = AddressPolicy::default().check(ip("127.0.0.1")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "address 127.0.0.1 is refused: loopback"
        );

        let policy = AddressPolicy::parse_allow_list("127.0.0.0/8, ::1/128").unwrap();
        assert_eq!(policy.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check(ip("127.3.2.1")), Ok(()));
        assert_eq!(policy.check(ip("::1")), Ok(()));
        assert_eq!(policy.check(ip("::ffff:127.0.0.1")), Ok(()));
        assert!(policy.check(ip("10.0.0.1")).is_err());
        assert!(policy.check(ip("169.254.169.254")).is_err());
        // NAT64 leads to a translator's loopback, not ours.
        assert!(policy.check(ip("64:ff9b::7f00:1")).is_err());
    }

    #[test]
    fn ipv6_mapped_allow_entries_cover_plain_ipv4() {
        let policy = AddressPolicy::parse_allow_list("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(policy.check(ip("10.9.9.9")), Ok(()));
        assert_eq!(policy.check(ip("::ffff:10.9.9.9")), Ok(()));
        assert!(policy.check(ip("192.168.0.1")).is_err());
    }

    #[test]
    fn refusals_name_the_address_and_reason() {
        let policy = AddressPolicy::default();
        let cases = [
            ("10.0.0.1", "address 10.0.0.1 is refused: private network"),
            (
                "169.254.169.254",
                "address 169.254.169.254 is refused: cloud metadata",
            ),
            ("::1", "address ::1 is refused: loopback"),
            (
                "fd00:ec2::254",
                "address fd00:ec2::254 is refused: cloud metadata",
            ),
        ];
        for (raw, expected) in cases {
            let refused = policy.check(ip(raw)).unwrap_err();
            assert_eq!(refused.ip, ip(raw));
            assert_eq!(refused.to_string(), expected);
        }
    }

    #[test]
    fn allow_list_accepts_cidrs_and_bare_addresses() {
        let policy =
            AddressPolicy::parse_allow_list(" 127.0.0.1 ,10.1.2.3/8,::1, fd00::/8 ").unwrap();
        let nets: Vec<String> = policy.allow.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]);
        assert_eq!(AddressPolicy::parse_allow_list("").unwrap().allow, []);
        assert_eq!(AddressPolicy::parse_allow_list("  ").unwrap().allow, []);
    }

    #[test]
    fn allow_list_errors_name_the_bad_entry() {
        let cases = [
            ("127.0.0.0/8, localhost", "localhost", "not an IP address"),
            ("10.0.0.0/33", "10.0.0.0/33", "not an IP network"),
            ("10.0.0.0/8,,::1", "", "empty entry"),
            ("127.0.0.0/8,", "", "empty entry"),
            ("10.0.0/8", "10.0.0/8", "not an IP network"),
            ("::1/129", "::1/129", "not an IP network"),
            ("[::1]", "[::1]", "not an IP address"),
        ];
        for (raw, entry, reason) in cases {
            assert_eq!(
                AddressPolicy::parse_allow_list(raw),
                Err(DomainError::InvalidAllowListEntry {
                    raw: entry.to_owned(),
                    reason: reason.to_owned(),
                }),
                "{raw}"
            );
        }
        let message = AddressPolicy::parse_allow_list("localhost")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "invalid delivery allow-list entry \"localhost\": not an IP address; expected a CIDR such as \"127.0.0.0/8\" or an IP address"
        );
    }

    #[test]
    fn an_allow_list_deserialises_through_the_same_parser() {
        let policy: AddressPolicy = serde_json::from_str("\"127.0.0.1, ::1/128\"").unwrap();
        assert_eq!(
            policy,
            AddressPolicy::parse_allow_list("127.0.0.1,::1").unwrap()
        );

        let error = serde_json::from_str::<AddressPolicy>("\"localhost\"").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid delivery allow-list entry \"localhost\""),
            "{error}"
        );
    }

    #[test]
    fn ipv4_decisions_agree_for_every_embedding() {
        let mut rng_state = 0x9e37_79b9_u32;
        for _ in 0..20_000 {
            // xorshift: a cheap spread over the whole IPv4 space.
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 17;
            rng_state ^= rng_state << 5;
            let v4 = Ipv4Addr::from(rng_state);
            let expected = forbidden_v4(v4);
            let [hi, lo] = [(rng_state >> 16) as u16, rng_state as u16];
            assert_eq!(forbidden_v6(v4.to_ipv6_mapped()), expected, "{v4}");
            assert_eq!(
                forbidden_v6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo)),
                expected,
                "{v4}"
            );
            assert_eq!(
                forbidden_v6(Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1)),
                expected,
                "{v4}"
            );
        }
    }
}
