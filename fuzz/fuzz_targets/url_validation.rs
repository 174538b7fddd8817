//! The endpoint URL check of the API (`endpoint_url`) on any text: it never
//! panics, and what it accepts under the default policy is an absolute http(s)
//! URL with a host, without credentials, whose IP literal (if any) is public,
//! and that the check accepts again unchanged.
#![no_main]

use std::net::IpAddr;

use eventflow_domain::{AddressPolicy, forbidden_reason};
use libfuzzer_sys::fuzz_target;
use query_api::endpoint_url;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let policy = AddressPolicy::default();
    let Ok(accepted) = endpoint_url(raw, &policy) else {
        return;
    };
    let url = url::Url::parse(&accepted).expect("an accepted URL parses");
    assert!(matches!(url.scheme(), "http" | "https"), "{accepted}");
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{accepted}"
    );
    let ip = match url.host() {
        None => panic!("an accepted URL has a host: {accepted}"),
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = ip {
        assert_eq!(
            forbidden_reason(ip),
            None,
            "{accepted} names a forbidden address"
        );
    }
    assert_eq!(
        endpoint_url(&accepted, &policy).as_deref(),
        Ok(accepted.as_str())
    );
});
