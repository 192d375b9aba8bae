//! The proxy's MySQL parsers (`iam_db_auth_proxy::mysql`): every packet a client or a server can
//! send during a login, COM_CHANGE_USER, and the relay's framing of the client's stream.
//! - nothing panics, whatever the bytes;
//! - a greeting that parses is re-made for the client as a greeting that parses back to the same
//!   version, connection id and nonce, never offering compression, offering TLS exactly when asked;
//! - a handshake response that parses is re-made upstream (with any token) as one that parses
//!   back to the same user and database, the token as `mysql_clear_password`'s answer, TLS on;
//! - a COM_CHANGE_USER that parses is re-made upstream as one that parses back to the same user,
//!   database and attributes, naming the proxy's plugin;
//! - the framer, fed the client's stream in any pieces, forwards exactly the bytes it is given,
//!   never more than it has, and stops at a COM_CHANGE_USER only when it is whole.
#![no_main]

use arbitrary::Arbitrary;
use iam_db_auth_cli::proxy::mysql::handshake::{self, CapabilityFlags, ClientHello};
use iam_db_auth_cli::proxy::mysql::relay::{Framer, Step};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    packet: &'a [u8],
    caps: u32,
    tls: bool,
    token: &'a str,
    /// The client's stream for the framer, and where it is cut into reads.
    stream: &'a [u8],
    cuts: Vec<u8>,
}

fuzz_target!(|input: Input<'_>| {
    let packet = input.packet;
    let caps = CapabilityFlags::from_bits_truncate(input.caps);

    let _ = handshake::server_reply(packet);
    let _ = handshake::err_message(packet);

    if let Ok(server) = handshake::parse_server_greeting(packet) {
        assert_eq!(server.nonce.len(), 20);
        let (greeting, offered) = handshake::client_greeting(&server, input.tls);
        let again =
            handshake::parse_server_greeting(&greeting).expect("the proxy's greeting parses");
        assert_eq!(again.nonce, server.nonce);
        assert_eq!(again.packet.connection_id(), server.packet.connection_id());
        assert_eq!(
            again.packet.server_version_ref(),
            server.packet.server_version_ref()
        );
        assert!(!offered.contains(CapabilityFlags::CLIENT_COMPRESS));
        assert_eq!(offered.contains(CapabilityFlags::CLIENT_SSL), input.tls);
        assert_eq!(again.capabilities(), offered);
    }

    if let Ok(ClientHello::Response(response)) = handshake::parse_client_hello(packet) {
        let _ = handshake::unsupported_request(response.capabilities());
        let up_caps = handshake::upstream_capabilities(response.capabilities(), caps);
        let ssl = handshake::upstream_ssl_request(&response, up_caps);
        assert_eq!(ssl.len(), 32);
        let login = handshake::upstream_response(&response, up_caps, input.token);
        assert_eq!(&login[..4], &ssl[..4]);
        match handshake::parse_client_hello(&login) {
            Ok(ClientHello::Response(parsed)) => {
                assert_eq!(parsed.user(), response.user());
                let nonempty = |d: Option<&[u8]>| d.filter(|d| !d.is_empty()).map(<[u8]>::to_vec);
                assert_eq!(nonempty(parsed.db_name()), nonempty(response.db_name()));
                assert_eq!(
                    parsed.scramble_buf(),
                    handshake::clear_answer(input.token).as_slice()
                );
                assert!(parsed.capabilities().contains(CapabilityFlags::CLIENT_SSL));
            }
            other => panic!("the upstream response does not parse back: {other:?}"),
        }
    }

    if let Ok(change) = handshake::parse_change_user(packet, caps) {
        let up_caps = CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_CONNECT_ATTRS;
        let out = handshake::upstream_change_user(&change, up_caps, 45);
        let again = handshake::parse_change_user(&out, up_caps)
            .expect("the proxy's COM_CHANGE_USER parses");
        assert_eq!(again.user, change.user);
        assert_eq!(again.database, change.database);
        assert_eq!(again.attributes, change.attributes);
        assert_eq!(again.plugin.as_deref(), Some(handshake::CHANGE_USER_PLUGIN));
        assert!(again.auth_response.is_empty());
    }

    // The framer over the stream, read in pieces.
    let mut framer = Framer::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut forwarded = 0usize;
    let mut fed = 0usize;
    let mut cuts = input.cuts.iter().map(|&c| usize::from(c) + 1);
    'outer: while fed < input.stream.len() {
        let n = cuts
            .next()
            .unwrap_or(input.stream.len())
            .min(input.stream.len() - fed);
        pending.extend_from_slice(&input.stream[fed..fed + n]);
        fed += n;
        loop {
            match framer.step(&pending) {
                Step::Forward(k) => {
                    assert!(k > 0 && k <= pending.len());
                    forwarded += k;
                    pending.drain(..k);
                }
                Step::NeedMore => break,
                Step::ChangeUser(len) => {
                    assert!(pending.len() >= 4 + len);
                    assert_eq!(pending[4], handshake::COM_CHANGE_USER);
                    break 'outer;
                }
                Step::TooLong(_) => break 'outer,
            }
        }
    }
    assert!(forwarded <= fed);
});
