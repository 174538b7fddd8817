//! The endpoint URL rule (`EndpointUrl::parse`, then `check_reachable`, as the
//! API and the CLI apply it) on any text: it never panics, and what it accepts
//! under the default policy is an absolute http(s) URL with a host, without
//! credentials, whose IP literal (if any) is public, and that the rule accepts
//! again unchanged.
#![no_main]

use std::net::IpAddr;

use eventflow_domain::{AddressPolicy, EndpointUrl, forbidden_reason};
use libfuzzer_sys::fuzz_target;

fn endpoint_url(raw: &str, policy: &AddressPolicy) -> Result<String, String> {
    let url = EndpointUrl::parse(raw).map_err(|error| error.to_string())?;
    url.check_reachable(policy)
        .map_err(|error| error.to_string())?;
    Ok(url.into())
}

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
