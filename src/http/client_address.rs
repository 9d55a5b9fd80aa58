//! Which address a request comes from, for the limits kept per address
//! (new sessions, token guessing). Every real deployment has a reverse
//! proxy in front, and then the peer is the proxy: the client is named in
//! `X-Forwarded-For`, which each proxy extends with the address it
//! received the request from. That header is believed only from the
//! proxies the `trusted_proxies` setting names; from any other peer it is
//! ignored, since a client can write whatever it likes there, and a limit
//! keyed by what the client writes limits nothing.

use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::IpAddr;

/// The proxies whose `X-Forwarded-For` is believed: addresses or networks.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From the setting: each entry an address (`10.0.0.7`, `::1`) or a
    /// network (`10.0.0.0/8`); `Err` names the first that is neither.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {entry:?} is not an address or network"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy;
    /// then, walking `X-Forwarded-For` from its right end (the entry the
    /// nearest proxy added), the first address that is not a trusted
    /// proxy. An entry that is not an address ends the walk: the address
    /// the last trusted hop vouched for is the client.
    pub fn client_of(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(address) = hop.parse::<IpAddr>() else {
                break;
            };
            client = canonical(address);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of `req` (`None`: no peer address, as in a test
/// request built without one).
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .collect();
    Some(trusted.client_of(peer, &forwarded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_of(ip("198.51.100.4"), &["203.0.113.9"]),
            ip("198.51.100.4")
        );
        let some = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            some.client_of(ip("198.51.100.4"), &["203.0.113.9"]),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_hop_from_the_right() {
        let proxies = trusted(&["10.0.0.0/8", "192.0.2.1"]);
        // The client forged the first entry; the outer proxy 192.0.2.1
        // appended what it saw (203.0.113.9), the inner one 192.0.2.1.
        let header = ["1.2.3.4, 203.0.113.9, 192.0.2.1"];
        assert_eq!(
            proxies.client_of(ip("10.1.2.3"), &header),
            ip("203.0.113.9")
        );
        // The header split over several lines reads the same.
        let lines = ["1.2.3.4", "203.0.113.9, 192.0.2.1"];
        assert_eq!(proxies.client_of(ip("10.1.2.3"), &lines), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_peer_without_the_header_or_with_garbage_is_what_it_vouched_for() {
        let proxies = trusted(&["127.0.0.1"]);
        assert_eq!(proxies.client_of(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
        assert_eq!(
            proxies.client_of(ip("127.0.0.1"), &["203.0.113.9, not-an-address"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            proxies.client_of(ip("::ffff:127.0.0.1"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_setting_that_is_not_an_address_or_network_is_refused() {
        let refused = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()]);
        assert!(refused.unwrap_err().contains("proxy.local"));
        assert!(TrustedProxies::parse(&["::1".into(), "fd00::/8".into()]).is_ok());
    }
}
