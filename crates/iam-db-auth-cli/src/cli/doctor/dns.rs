//! Name resolution, behind a seam: which names the connect name resolves through (its CNAME
//! chain) and to which addresses.
//!
//! Two resolvers. [`System`]: the addresses as every client gets them (the C library's
//! resolver: /etc/hosts, nsswitch, DNS), and the CNAME chain asked of the first name server in
//! /etc/resolv.conf (best effort: the chain is left out if it does not answer). [`Server`]:
//! everything asked of one DNS server (`--dns-server`, e.g. a VPC resolver; the tests' local
//! DNS stand-in), so no test touches the system resolver. Every query is bounded in time.

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, TYPE};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// CNAME chains longer than this are treated as loops.
const MAX_CHAIN: usize = 10;

/// What a name resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The connect name, then each name it is an alias of, in order (just the name when it is
    /// no alias, or when the chain could not be asked for).
    pub chain: Vec<String>,
    pub addresses: Vec<IpAddr>,
}

/// A name resolver.
pub trait Resolver {
    /// Resolves `name` within `timeout`; an error says what went wrong (NXDOMAIN, no answer).
    fn resolve(&self, name: &str, timeout: Duration) -> Result<Resolution, String>;
    /// Who answers, for messages ("the system resolver", "DNS server 10.0.0.2:53").
    fn describe(&self) -> String;
}

/// The system's resolver (see the module doc).
pub struct System;

impl Resolver for System {
    fn resolve(&self, name: &str, timeout: Duration) -> Result<Resolution, String> {
        let deadline = Instant::now() + timeout;
        let addresses = system_addresses(name, timeout)?;
        let chain = nameserver_from_resolv_conf()
            .and_then(|server| {
                let left = deadline.saturating_duration_since(Instant::now());
                cname_chain(server, name, left.min(Duration::from_secs(2))).ok()
            })
            .unwrap_or_else(|| vec![name.to_string()]);
        Ok(Resolution { chain, addresses })
    }

    fn describe(&self) -> String {
        "the system resolver".into()
    }
}

/// One DNS server, asked directly.
pub struct Server(pub SocketAddr);

impl Resolver for Server {
    fn resolve(&self, name: &str, timeout: Duration) -> Result<Resolution, String> {
        let deadline = Instant::now() + timeout;
        let chain = cname_chain(self.0, name, timeout)?;
        let canonical = chain.last().cloned().unwrap_or_else(|| name.to_string());
        let mut addresses = Vec::new();
        for qtype in [TYPE::A, TYPE::AAAA] {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = query(self.0, &canonical, qtype, left)?;
            addresses.extend(answer.addresses);
        }
        if addresses.is_empty() {
            return Err(format!(
                "{} has no address records (A or AAAA) at {}",
                canonical,
                self.describe()
            ));
        }
        Ok(Resolution { chain, addresses })
    }

    fn describe(&self) -> String {
        format!("DNS server {}", self.0)
    }
}

/// The addresses the C library's resolver gives (as a client gets them), in a thread so the
/// wait is bounded: a late answer is abandoned.
fn system_addresses(name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let (tx, rx) = mpsc::channel();
    let host = name.to_string();
    std::thread::Builder::new()
        .name("doctor-getaddrinfo".into())
        .spawn(move || {
            let result = (host.as_str(), 0u16)
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>());
            let _ = tx.send(result);
        })
        .map_err(|e| format!("could not start a resolver thread: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(mut addrs)) => {
            let mut seen = std::collections::BTreeSet::new();
            addrs.retain(|a| seen.insert(*a));
            Ok(addrs)
        }
        Ok(Err(e)) => Err(format!("{name} does not resolve ({e})")),
        Err(_) => Err(format!(
            "the system resolver did not answer for {name} within {} s",
            timeout.as_secs_f32()
        )),
    }
}

/// The first `nameserver` of /etc/resolv.conf.
fn nameserver_from_resolv_conf() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "nameserver")
            .then(|| words.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// The chain of names from `name` through its CNAMEs, as `server` answers.
fn cname_chain(server: SocketAddr, name: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let answer = query(server, name, TYPE::A, timeout)?;
    let mut chain = vec![trim_dot(name).to_string()];
    while chain.len() <= MAX_CHAIN {
        let current = chain.last().map(String::as_str).unwrap_or_default();
        let next = answer
            .cnames
            .iter()
            .find(|(owner, _)| owner.eq_ignore_ascii_case(current))
            .map(|(_, target)| target.clone());
        match next {
            Some(target) => chain.push(target),
            None => return Ok(chain),
        }
    }
    Err(format!(
        "{name}: the CNAME chain is longer than {MAX_CHAIN} names (a loop?)"
    ))
}

/// What one answer held: CNAME records (owner, target) and the addresses.
struct Answer {
    cnames: Vec<(String, String)>,
    addresses: Vec<IpAddr>,
}

/// One query over UDP, sent twice at most within `timeout`.
fn query(server: SocketAddr, name: &str, qtype: TYPE, timeout: Duration) -> Result<Answer, String> {
    let deadline = Instant::now() + timeout;
    let id = random_u16();
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    let qname = Name::new(trim_dot(name)).map_err(|e| format!("{name} is not a DNS name ({e})"))?;
    packet.questions.push(Question::new(
        qname,
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let bytes = packet
        .build_bytes_vec()
        .map_err(|e| format!("could not build a DNS query for {name} ({e})"))?;
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket =
        UdpSocket::bind(local).map_err(|e| format!("could not open a UDP socket ({e})"))?;
    socket
        .connect(server)
        .map_err(|e| format!("could not reach DNS server {server} ({e})"))?;
    let mut buf = [0u8; 4096];
    for attempt in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket
            .send(&bytes)
            .map_err(|e| format!("could not send to DNS server {server} ({e})"))?;
        // The first try gets half the time, the retry the rest.
        let wait = if attempt == 0 { left / 2 } else { left };
        let until = Instant::now() + wait.max(Duration::from_millis(1));
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket
                .set_read_timeout(Some(left))
                .map_err(|e| format!("socket: {e}"))?;
            let Ok(n) = socket.recv(&mut buf) else { break };
            let Ok(reply) = Packet::parse(&buf[..n]) else {
                continue;
            };
            if reply.id() != id {
                continue;
            }
            return answer_of(&reply, name, server);
        }
    }
    Err(format!(
        "DNS server {server} did not answer for {name} within {} s",
        timeout.as_secs_f32()
    ))
}

fn answer_of(reply: &Packet<'_>, name: &str, server: SocketAddr) -> Result<Answer, String> {
    match reply.rcode() {
        RCODE::NoError => {}
        RCODE::NameError => {
            return Err(format!(
                "{name} does not exist (NXDOMAIN from DNS server {server})"
            ));
        }
        other => return Err(format!("DNS server {server} answered {other:?} for {name}")),
    }
    let mut answer = Answer {
        cnames: Vec::new(),
        addresses: Vec::new(),
    };
    for record in &reply.answers {
        match &record.rdata {
            RData::CNAME(target) => answer.cnames.push((
                trim_dot(&record.name.to_string()).to_string(),
                trim_dot(&target.0.to_string()).to_string(),
            )),
            RData::A(a) => answer.addresses.push(IpAddr::V4(Ipv4Addr::from(a.address))),
            RData::AAAA(a) => answer.addresses.push(IpAddr::V6(Ipv6Addr::from(a.address))),
            _ => {}
        }
    }
    Ok(answer)
}

fn trim_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// A query id no off-path host can guess cheaply (the process's random hash keys).
fn random_u16() -> u16 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::ResourceRecord;
    use simple_dns::rdata::{A, CNAME};

    /// A DNS server on loopback that answers one query from a table (CNAME chain + address).
    fn serve_once(
        records: Vec<(&'static str, &'static str)>,
    ) -> (SocketAddr, std::thread::JoinHandle<()>) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0u8; 1500];
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                return;
            };
            let query = Packet::parse(&buf[..n]).unwrap();
            let mut reply = query.clone().into_reply();
            for (owner, target) in &records {
                let rdata = match target.parse::<Ipv4Addr>() {
                    Ok(ip) => RData::A(A { address: ip.into() }),
                    Err(_) => RData::CNAME(CNAME(Name::new_unchecked(target))),
                };
                reply.answers.push(ResourceRecord::new(
                    Name::new_unchecked(owner),
                    CLASS::IN,
                    60,
                    rdata,
                ));
            }
            if records.is_empty() {
                *reply.rcode_mut() = RCODE::NameError;
            }
            socket
                .send_to(&reply.build_bytes_vec().unwrap(), peer)
                .unwrap();
        });
        (addr, handle)
    }

    #[test]
    fn a_cname_chain_is_followed_to_its_end() {
        let (addr, handle) = serve_once(vec![
            ("db.corp.example", "alias.corp.example"),
            ("alias.corp.example", "mydb.abc.us-east-1.rds.amazonaws.com"),
            ("mydb.abc.us-east-1.rds.amazonaws.com", "127.0.0.1"),
        ]);
        let chain = cname_chain(addr, "db.corp.example", Duration::from_secs(5)).unwrap();
        handle.join().unwrap();
        assert_eq!(
            chain,
            [
                "db.corp.example",
                "alias.corp.example",
                "mydb.abc.us-east-1.rds.amazonaws.com"
            ]
        );
    }

    #[test]
    fn nxdomain_and_silence_are_told_apart() {
        let (addr, handle) = serve_once(vec![]);
        let err = cname_chain(addr, "nope.example", Duration::from_secs(5)).unwrap_err();
        handle.join().unwrap();
        assert!(err.contains("NXDOMAIN"), "{err}");
        // A bound socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        let err = cname_chain(
            silent.local_addr().unwrap(),
            "x.example",
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.contains("did not answer"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
