//! A private network for a cluster run's network-cut fault (docs/CLUSTER.md: "a
//! node cut off the network (`ip netns`, link down) and healed").
//!
//! Each node runs in a network namespace of its own, joined to the others
//! by a bridge in the simulator's namespace: nodes, the simulator's
//! clients (`10.X.0.1`) and the database relay (`10.X.0.2`) meet on
//! `10.X.0.0/24`, an address range that exists only on this machine,
//! inside these namespaces.
//!
//! Cutting node `i` leaves it reachable by its clients but not by the
//! database and the other nodes, nor they by it: in its namespace, routes
//! to their addresses become blackholes, so whatever it sends them is lost
//! (TCP keeps retrying) until the cut heals. This is the partition that
//! fencing exists for: the node still takes requests and still believes it
//! holds its leases, while they lapse and another node takes its shows;
//! what it sends the database meanwhile arrives after the cut heals.
//!
//! The literal "link down" is there too (`link_down`): the node's only
//! link goes down, so nobody reaches it and it reaches nobody. That node
//! only ends requests it already had, so its late writes are rare; the runs
//! judge it like the others (no seat sold twice, takeover in time) and ask
//! the partial cut above to show the fence at work.
//!
//! The database stays on loopback: the simulator relays the nodes'
//! connections to it (`relay_database`).
//!
//! Needs root (or CAP_NET_ADMIN) and iproute2; `Network::create` says why
//! when it cannot.

use std::process::Command;

/// The namespaces, veth pairs and bridge of one run; removed on drop.
pub struct Network {
    /// Unique per run, so that runs side by side do not meet.
    tag: String,
    /// Second octet of the run's 10.X.0.0/24.
    octet: u8,
    nodes: usize,
}

fn ip(args: &[&str]) -> std::io::Result<()> {
    let output = Command::new("ip").args(args).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

impl Network {
    /// Makes the bridge and one namespace per node.
    pub fn create(nodes: usize) -> std::io::Result<Network> {
        let pid = std::process::id();
        let network = Network {
            tag: format!("bo{}", pid % 100_000),
            octet: 100 + (pid % 100) as u8,
            nodes,
        };
        network.build().map_err(|error| {
            std::io::Error::other(format!(
                "cannot make the network namespaces of the cut fault (needs root and iproute2): {error}"
            ))
        })?;
        Ok(network)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    /// The namespace node `index` runs in.
    pub fn namespace(&self, index: usize) -> String {
        format!("{}ns{}", self.tag, index + 1)
    }

    /// The bridge port of node `index` (the link the cut takes down).
    fn port(&self, index: usize) -> String {
        format!("{}h{}", self.tag, index + 1)
    }

    fn inner(&self, index: usize) -> String {
        format!("{}n{}", self.tag, index + 1)
    }

    /// The simulator's address on the bridge (its clients').
    pub fn host_addr(&self) -> String {
        format!("10.{}.0.1", self.octet)
    }

    /// The database relay's address on the bridge.
    pub fn database_addr(&self) -> String {
        format!("10.{}.0.2", self.octet)
    }

    /// Node `index`'s address.
    pub fn node_addr(&self, index: usize) -> String {
        format!("10.{}.0.{}", self.octet, 10 + index)
    }

    fn build(&self) -> std::io::Result<()> {
        let bridge = self.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", self.host_addr()),
            "dev",
            &bridge,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", self.database_addr()),
            "dev",
            &bridge,
        ])?;
        ip(&["link", "set", &bridge, "up"])?;
        for index in 0..self.nodes {
            let (ns, port, inner) = (self.namespace(index), self.port(index), self.inner(index));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &port, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &port, "master", &bridge, "up"])?;
            let addr = format!("{}/24", self.node_addr(index));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// The addresses node `index` loses in a cut: the database's and the
    /// other nodes'.
    fn cut_off(&self, index: usize) -> Vec<String> {
        std::iter::once(self.database_addr())
            .chain(
                (0..self.nodes)
                    .filter(|other| *other != index)
                    .map(|other| self.node_addr(other)),
            )
            .collect()
    }

    /// Cuts node `index` off the database and the other nodes.
    pub fn cut(&self, index: usize) -> std::io::Result<()> {
        let ns = self.namespace(index);
        for addr in self.cut_off(index) {
            ip(&[
                "-n",
                &ns,
                "route",
                "add",
                "blackhole",
                &format!("{addr}/32"),
            ])?;
        }
        Ok(())
    }

    /// Takes node `index`'s only link down (its bridge port).
    pub fn link_down(&self, index: usize) -> std::io::Result<()> {
        ip(&["link", "set", &self.port(index), "down"])
    }

    /// Brings it up again.
    pub fn link_up(&self, index: usize) -> std::io::Result<()> {
        ip(&["link", "set", &self.port(index), "up"])
    }

    /// Heals the cut.
    pub fn heal(&self, index: usize) -> std::io::Result<()> {
        let ns = self.namespace(index);
        for addr in self.cut_off(index) {
            // Absent if this cut never happened: nothing to heal.
            let _ = ip(&[
                "-n",
                &ns,
                "route",
                "del",
                "blackhole",
                &format!("{addr}/32"),
            ]);
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for index in 0..self.nodes {
            let _ = ip(&["link", "del", &self.port(index)]);
            let _ = ip(&["netns", "del", &self.namespace(index)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}

/// Relays TCP connections from `listen` (the bridge's address, port 0:
/// any) to `upstream` (the database on loopback), on the current tokio
/// runtime, for as long as the runtime runs. Returns the port it listens
/// on.
pub fn relay_database(listen: &str, upstream: String) -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(format!("{listen}:0"))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let handle = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    handle.spawn(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        while let Ok((mut inbound, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok(port)
}

/// `url` with its host and port replaced by `host_port` (a
/// `postgres://user@host:port/db?...` URL).
pub fn with_host(url: &str, host_port: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (user, rest) = match rest.split_once('@') {
        Some((user, rest)) => (format!("{user}@"), rest),
        None => (String::new(), rest),
    };
    let tail = rest.find(['/', '?']).map_or("", |at| &rest[at..]);
    Some(format!("{scheme}://{user}{host_port}{tail}"))
}

/// The `host:port` of a `postgres://` URL (port 5432 if it names none).
pub fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split_once('@').map_or(rest, |(_, rest)| rest);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = &rest[..end];
    Some(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_get_the_relay_address() {
        let url = "postgres://postgres@127.0.0.1:15470/boxoffice?sslmode=disable";
        assert_eq!(host_port(url).as_deref(), Some("127.0.0.1:15470"));
        assert_eq!(
            with_host(url, "10.1.0.1:4000").as_deref(),
            Some("postgres://postgres@10.1.0.1:4000/boxoffice?sslmode=disable")
        );
        assert_eq!(host_port("postgres://db/x").as_deref(), Some("db:5432"));
        assert_eq!(
            with_host("postgres://db", "h:1").as_deref(),
            Some("postgres://h:1")
        );
    }
}
