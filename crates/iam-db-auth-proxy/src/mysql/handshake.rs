//! The login's packets, as pure functions over bytes (fuzzed: `fuzz/fuzz_targets/proxy_mysql.rs`):
//! the server's greeting read and re-made for the client, the client's SSLRequest or handshake
//! response read, the upstream handshake response carrying the token, the server's answers
//! sorted, and COM_CHANGE_USER read. mysql_common does the packet layouts; this module decides.

/// The capability flags, for callers of this module (the fuzz target reaches the proxy crate
/// through the CLI's re-export and has no mysql_common of its own).
pub use mysql_common::constants::CapabilityFlags;
use mysql_common::io::{BufMutExt, ParseBuf};
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The plugin the proxy names to clients: what every client speaks. Without local users the
/// proxy ignores the client's answer (the token is the proof upstream); with local users it
/// checks the scramble against the local password.
pub const CLIENT_PLUGIN: &[u8] = b"mysql_native_password";

/// The plugin whose answer is the password in clear: an IAM token upstream.
pub const CLEAR_PLUGIN: &[u8] = b"mysql_clear_password";

/// The plugin named upstream in COM_CHANGE_USER: no server has it, so the server always answers
/// with an AuthSwitchRequest for the user's own plugin (COM_CHANGE_USER has room for only 255
/// bytes of auth data, a token is longer; the switch's answer has no such limit).
pub const CHANGE_USER_PLUGIN: &[u8] = b"iam_db_auth_proxy";

/// What the proxy never offers to clients: compression (the local leg gains nothing from it and
/// the relay reads the client's packets), and TLS unless the listener has a certificate.
fn never_offered() -> CapabilityFlags {
    CapabilityFlags::CLIENT_COMPRESS
        | CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM
        | CapabilityFlags::CLIENT_SSL
        | CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT
}

/// What the proxy needs the server to speak: protocol 4.1 logins with plugins and long auth data.
fn required_of_server() -> CapabilityFlags {
    CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
}

/// The server's greeting, as far as the proxy uses it.
#[derive(Debug, Clone)]
pub struct ServerGreeting {
    pub packet: HandshakePacket<'static>,
    /// The 20-byte nonce the client scrambles its password with (the server's, first 20 bytes).
    pub nonce: Vec<u8>,
}

impl ServerGreeting {
    pub fn capabilities(&self) -> CapabilityFlags {
        self.packet.capabilities()
    }

    pub fn offers_tls(&self) -> bool {
        self.capabilities().contains(CapabilityFlags::CLIENT_SSL)
    }
}

/// Reads the server's greeting (HandshakeV10).
pub fn parse_server_greeting(payload: &[u8]) -> Result<ServerGreeting, String> {
    match payload.first() {
        Some(10) => {}
        Some(0xFF) => {
            return Err("the database answered with an error instead of a greeting".into());
        }
        Some(v) => return Err(format!("the database speaks protocol version {v}, not 10")),
        None => return Err("the database sent an empty greeting".into()),
    }
    let packet: HandshakePacket<'_> = ParseBuf(payload)
        .parse(())
        .map_err(|e| format!("the database's greeting does not parse: {e}"))?;
    let missing = required_of_server() - packet.capabilities();
    if !missing.is_empty() {
        return Err(format!(
            "the database lacks capabilities the proxy needs: {missing:?}"
        ));
    }
    // 20 bytes, as every server sends: what the proxy hands its client (a longer one would not
    // fit the greeting's length byte as clients read it).
    let mut nonce = packet.nonce();
    nonce.truncate(20);
    Ok(ServerGreeting {
        packet: packet.into_owned(),
        nonce,
    })
}

/// The greeting the proxy sends its client: the server's version, connection id (so `KILL`
/// from another connection names the right session), nonce, status and collation; its
/// capabilities less what the proxy does not pass (see `never_offered`), plus TLS when the
/// listener offers it; `mysql_native_password` as the plugin. Returns the payload and the
/// capabilities offered.
pub fn client_greeting(server: &ServerGreeting, offer_tls: bool) -> (Vec<u8>, CapabilityFlags) {
    let mut caps = server.capabilities() - never_offered();
    if offer_tls {
        caps |= CapabilityFlags::CLIENT_SSL;
    }
    let p = &server.packet;
    let mut scramble_1 = [0u8; 8];
    scramble_1.copy_from_slice(&server.nonce[..8]);
    // The rest of the nonce with the terminating NUL servers send.
    let mut scramble_2 = server.nonce[8..].to_vec();
    scramble_2.push(0);
    let greeting = HandshakePacket::new(
        10,
        p.server_version_ref().to_vec(),
        p.connection_id(),
        scramble_1,
        Some(scramble_2),
        caps,
        p.default_collation(),
        p.status_flags(),
        Some(CLIENT_PLUGIN),
    )
    .with_mariadb_ext_capabilities(p.mariadb_ext_capabilities());
    let mut out = Vec::new();
    greeting.serialize(&mut out);
    (out, caps)
}

/// The client's first packet after the greeting.
#[derive(Debug)]
pub enum ClientHello<'a> {
    /// The client asks for TLS; its handshake response follows inside TLS.
    SslRequest,
    Response(HandshakeResponse<'a>),
}

/// Reads the client's SSLRequest or handshake response.
pub fn parse_client_hello(payload: &[u8]) -> Result<ClientHello<'_>, String> {
    if payload.len() < 32 {
        return Err(format!(
            "a handshake response of {} bytes is too short",
            payload.len()
        ));
    }
    let caps = CapabilityFlags::from_bits_truncate(u32::from_le_bytes([
        payload[0], payload[1], payload[2], payload[3],
    ]));
    if !caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        return Err("the client does not speak protocol 4.1".into());
    }
    if payload.len() == 32 {
        return if caps.contains(CapabilityFlags::CLIENT_SSL) {
            Ok(ClientHello::SslRequest)
        } else {
            Err("a handshake response without a user".into())
        };
    }
    let response: HandshakeResponse<'_> = ParseBuf(payload)
        .parse(())
        .map_err(|e| format!("the client's handshake response does not parse: {e}"))?;
    Ok(ClientHello::Response(response))
}

/// The user a handshake response names, as text (MySQL user names are UTF-8).
pub fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("the {what} is not UTF-8"))
}

/// Did the client ask for what the proxy did not offer (compression)?
pub fn unsupported_request(caps: CapabilityFlags) -> Option<&'static str> {
    if caps.intersects(
        CapabilityFlags::CLIENT_COMPRESS | CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM,
    ) {
        Some("the proxy does not offer compression: connect without it")
    } else {
        None
    }
}

/// The capabilities of the upstream login: what the client chose (it shapes every packet of
/// the session, which the relay passes unchanged), plus what the proxy's own login needs: TLS,
/// plugins, long auth data, connect attributes (so COM_CHANGE_USER's layout is known).
pub fn upstream_capabilities(client: CapabilityFlags, server: CapabilityFlags) -> CapabilityFlags {
    let mut caps = (client & server) - never_offered();
    caps |= required_of_server() | CapabilityFlags::CLIENT_SSL;
    caps |= server & CapabilityFlags::CLIENT_CONNECT_ATTRS;
    caps
}

/// The SSLRequest the proxy sends upstream (the first 32 bytes of its handshake response).
/// Its capabilities are the handshake response's, so the server sees one set.
pub fn upstream_ssl_request(response: &HandshakeResponse<'_>, caps: CapabilityFlags) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    head(response, with_db_flag(response, caps), &mut out);
    out
}

/// `CLIENT_CONNECT_WITH_DB` exactly when the client named a database.
fn with_db_flag(response: &HandshakeResponse<'_>, caps: CapabilityFlags) -> CapabilityFlags {
    let mut caps = caps;
    caps.set(
        CapabilityFlags::CLIENT_CONNECT_WITH_DB,
        response.db_name().is_some_and(|d| !d.is_empty()),
    );
    caps
}

fn head(response: &HandshakeResponse<'_>, caps: CapabilityFlags, out: &mut Vec<u8>) {
    out.extend_from_slice(&caps.bits().to_le_bytes());
    out.extend_from_slice(&max_packet_size(response).to_le_bytes());
    out.push(response.collation());
    out.extend_from_slice(&[0; 19]);
    out.extend_from_slice(&response.mariadb_ext_capabilities().bits().to_le_bytes());
}

/// mysql_common does not hand out the client's max packet size; the proxy reads the field.
fn max_packet_size(response: &HandshakeResponse<'_>) -> u32 {
    let mut out = Vec::new();
    response.serialize(&mut out);
    u32::from_le_bytes([out[4], out[5], out[6], out[7]])
}

/// The upstream handshake response: the client's user, database, collation, attributes and
/// capabilities (see `upstream_capabilities`), the token as `mysql_clear_password`'s answer.
pub fn upstream_response(
    response: &HandshakeResponse<'_>,
    caps: CapabilityFlags,
    token: &str,
) -> Zeroizing<Vec<u8>> {
    let caps = with_db_flag(response, caps);
    let mut out = Zeroizing::new(Vec::with_capacity(256 + token.len()));
    head(response, caps, &mut out);
    out.extend_from_slice(response.user());
    out.push(0);
    out.put_lenenc_str(&clear_answer(token));
    if caps.contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB) {
        out.extend_from_slice(response.db_name().unwrap_or_default());
        out.push(0);
    }
    out.extend_from_slice(CLEAR_PLUGIN);
    out.push(0);
    if caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) {
        put_attributes(&attributes(response), &mut out);
    }
    out
}

/// The client's connect attributes, in a stable order.
pub fn attributes(response: &HandshakeResponse<'_>) -> BTreeMap<String, String> {
    response
        .connect_attributes()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn put_attributes(attrs: &BTreeMap<String, String>, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    for (k, v) in attrs {
        body.put_lenenc_str(k.as_bytes());
        body.put_lenenc_str(v.as_bytes());
    }
    out.put_lenenc_str(&body);
}

/// `mysql_clear_password`'s answer: the password and a NUL, as the stock client plugins send it.
pub fn clear_answer(token: &str) -> Zeroizing<Vec<u8>> {
    let mut answer = Zeroizing::new(Vec::with_capacity(token.len() + 1));
    answer.extend_from_slice(token.as_bytes());
    answer.push(0);
    answer
}

/// The server's answer during a login.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerReply {
    /// Logged in.
    Ok,
    /// Refused: the ERR packet, which the client gets as it is.
    Err,
    /// The server asks for the password in clear: the token.
    SwitchToClear,
    /// The server asks for another plugin: the user is not an IAM user.
    SwitchTo(String),
    /// Anything else (AuthMoreData of a plugin the proxy did not choose, garbage).
    Unexpected(String),
}

/// Sorts the server's answer to a login packet.
pub fn server_reply(payload: &[u8]) -> ServerReply {
    match payload.first() {
        Some(0x00) => ServerReply::Ok,
        Some(0xFF) => ServerReply::Err,
        Some(0xFE) if payload.len() == 1 => {
            ServerReply::SwitchTo("mysql_old_password (pre-4.1 passwords)".into())
        }
        Some(0xFE) => match ParseBuf(payload).parse::<AuthSwitchRequest<'_>>(()) {
            Ok(switch) => match switch.auth_plugin() {
                AuthPlugin::MysqlClearPassword => ServerReply::SwitchToClear,
                other => ServerReply::SwitchTo(String::from_utf8_lossy(other.as_bytes()).into()),
            },
            Err(e) => {
                ServerReply::Unexpected(format!("an AuthSwitchRequest that does not parse: {e}"))
            }
        },
        Some(0x01) => ServerReply::Unexpected("more data for an authentication plugin".into()),
        Some(b) => ServerReply::Unexpected(format!("a packet starting with 0x{b:02x}")),
        None => ServerReply::Unexpected("an empty packet".into()),
    }
}

/// The message of an ERR packet from the server (for the log; the client gets the packet).
pub fn err_message(payload: &[u8]) -> String {
    // 0xFF, code (2), then '#' and a 5-byte SQL state in protocol 4.1.
    let rest = payload.get(3..).unwrap_or_default();
    let rest = match rest {
        [b'#', tail @ ..] => tail.get(5..).unwrap_or_default(),
        other => other,
    };
    let code = match payload {
        [_, a, b, ..] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    };
    format!("{code}: {}", String::from_utf8_lossy(rest))
}

/// A COM_CHANGE_USER packet, read with the client's capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    pub user: Vec<u8>,
    pub auth_response: Vec<u8>,
    pub database: Vec<u8>,
    pub charset: Option<u16>,
    pub plugin: Option<Vec<u8>>,
    pub attributes: BTreeMap<String, String>,
}

/// The command byte of COM_CHANGE_USER.
pub const COM_CHANGE_USER: u8 = 0x11;

/// Reads COM_CHANGE_USER (mysql_common builds it but hands out none of its fields).
pub fn parse_change_user(payload: &[u8], caps: CapabilityFlags) -> Result<ChangeUser, String> {
    let bad = |what: &str| format!("COM_CHANGE_USER: {what}");
    let mut rest = match payload {
        [COM_CHANGE_USER, rest @ ..] => rest,
        _ => return Err(bad("not a COM_CHANGE_USER packet")),
    };
    let user = take_nul(&mut rest).ok_or_else(|| bad("no user"))?;
    let auth_response = if caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
        let (&n, tail) = rest.split_first().ok_or_else(|| bad("no auth data"))?;
        let n = usize::from(n);
        if tail.len() < n {
            return Err(bad("auth data past the end"));
        }
        rest = &tail[n..];
        tail[..n].to_vec()
    } else {
        take_nul(&mut rest).ok_or_else(|| bad("no auth data"))?
    };
    let database = take_nul(&mut rest).ok_or_else(|| bad("no database"))?;
    let mut change = ChangeUser {
        user,
        auth_response,
        database,
        charset: None,
        plugin: None,
        attributes: BTreeMap::new(),
    };
    if rest.is_empty() {
        return Ok(change);
    }
    if rest.len() < 2 {
        return Err(bad("a truncated character set"));
    }
    change.charset = Some(u16::from_le_bytes([rest[0], rest[1]]));
    rest = &rest[2..];
    if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !rest.is_empty() {
        change.plugin = Some(take_nul(&mut rest).ok_or_else(|| bad("no plugin name"))?);
    }
    if caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) && !rest.is_empty() {
        let mut buf = ParseBuf(rest);
        let len = buf
            .checked_eat_lenenc_int()
            .ok_or_else(|| bad("truncated attributes"))?;
        let len = usize::try_from(len).map_err(|_| bad("attributes too long"))?;
        let mut attrs = buf
            .checked_eat(len)
            .map(ParseBuf)
            .ok_or_else(|| bad("attributes past the end"))?;
        while !attrs.is_empty() {
            let k = attrs
                .checked_eat_lenenc_str()
                .ok_or_else(|| bad("a truncated attribute"))?;
            let v = attrs
                .checked_eat_lenenc_str()
                .ok_or_else(|| bad("a truncated attribute"))?;
            change.attributes.insert(
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            );
        }
    }
    Ok(change)
}

fn take_nul(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let at = rest.iter().position(|&b| b == 0)?;
    let value = rest[..at].to_vec();
    *rest = &rest[at + 1..];
    Some(value)
}

/// The COM_CHANGE_USER the proxy sends upstream for `change` (with upstream capabilities
/// `caps`): no auth data and a plugin no server has, so the server asks for its own plugin's
/// answer (see `CHANGE_USER_PLUGIN`).
pub fn upstream_change_user(change: &ChangeUser, caps: CapabilityFlags, collation: u8) -> Vec<u8> {
    let mut out = vec![COM_CHANGE_USER];
    out.extend_from_slice(&change.user);
    out.push(0);
    out.push(0); // no auth data
    out.extend_from_slice(&change.database);
    out.push(0);
    out.extend_from_slice(&change.charset.unwrap_or(u16::from(collation)).to_le_bytes());
    out.extend_from_slice(CHANGE_USER_PLUGIN);
    out.push(0);
    if caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) {
        put_attributes(&change.attributes, &mut out);
    }
    out
}

/// Checks a `mysql_native_password` answer against the local password, in constant time.
pub fn native_password_ok(nonce: &[u8], password: &str, answer: &[u8]) -> bool {
    // A local user without a password is no local authentication.
    if password.is_empty() {
        return false;
    }
    let Some(expected) = mysql_common::auth::plugins::mysql_native_password::scramble_native(
        nonce,
        password.as_bytes(),
    ) else {
        return false;
    };
    answer.len() == expected.len()
        && expected
            .iter()
            .zip(answer)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// An AuthSwitchRequest to `mysql_native_password` with `nonce` (for local users whose client
/// answered with another plugin).
pub fn switch_to_native(nonce: &[u8]) -> Vec<u8> {
    let mut data = nonce.to_vec();
    data.push(0);
    let mut out = Vec::new();
    AuthSwitchRequest::new(CLIENT_PLUGIN, data).serialize(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting_caps() -> CapabilityFlags {
        parse_server_greeting(&greeting()).unwrap().capabilities()
    }

    /// A MariaDB 10.11 greeting, as the stand-in sends it.
    fn greeting() -> Vec<u8> {
        let caps = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CapabilityFlags::CLIENT_SSL
            | CapabilityFlags::CLIENT_COMPRESS
            | CapabilityFlags::CLIENT_CONNECT_ATTRS
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB
            | CapabilityFlags::CLIENT_DEPRECATE_EOF;
        let p = HandshakePacket::new(
            10,
            &b"5.5.5-10.11.6-MariaDB"[..],
            42,
            *b"abcdefgh",
            Some(&b"ijklmnopqrst\0"[..]),
            caps,
            45,
            mysql_common::constants::StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            Some(&b"mysql_native_password"[..]),
        );
        let mut out = Vec::new();
        p.serialize(&mut out);
        out
    }

    fn response(caps: CapabilityFlags) -> Vec<u8> {
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("_client_name".to_owned(), "test".to_owned());
        let r = HandshakeResponse::new(
            Some(&b"xyz"[..]),
            (10, 11, 6),
            Some(&b"iam_user"[..]),
            Some(&b"appdb"[..]),
            Some(AuthPlugin::MysqlNativePassword),
            caps,
            Some(attrs),
            1 << 24,
        );
        let mut out = Vec::new();
        r.serialize(&mut out);
        out
    }

    #[test]
    fn the_client_greeting_keeps_the_server_and_drops_tls_and_compression() {
        let server = parse_server_greeting(&greeting()).unwrap();
        assert_eq!(server.nonce, b"abcdefghijklmnopqrst");
        let (payload, caps) = client_greeting(&server, false);
        assert!(!caps.contains(CapabilityFlags::CLIENT_SSL));
        assert!(!caps.contains(CapabilityFlags::CLIENT_COMPRESS));
        assert!(caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF));
        let again = parse_server_greeting(&payload).unwrap();
        assert_eq!(again.nonce, server.nonce);
        assert_eq!(again.packet.connection_id(), 42);
        assert_eq!(again.packet.server_version_ref(), b"5.5.5-10.11.6-MariaDB");
        let (_, caps) = client_greeting(&server, true);
        assert!(caps.contains(CapabilityFlags::CLIENT_SSL));
    }

    #[test]
    fn the_upstream_response_carries_the_client_and_the_token() {
        let server = parse_server_greeting(&greeting()).unwrap();
        let client_caps = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_DEPRECATE_EOF
            | CapabilityFlags::CLIENT_PLUGIN_AUTH;
        let raw = response(client_caps);
        let ClientHello::Response(r) = parse_client_hello(&raw).unwrap() else {
            panic!("not a response")
        };
        let caps = upstream_capabilities(r.capabilities(), server.capabilities());
        let token = "t".repeat(1500);
        let up = upstream_response(&r, caps, &token);
        let ClientHello::Response(parsed) = parse_client_hello(&up).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(parsed.user(), b"iam_user");
        assert_eq!(parsed.db_name(), Some(&b"appdb"[..]));
        assert_eq!(parsed.scramble_buf(), clear_answer(&token).as_slice());
        assert_eq!(parsed.auth_plugin(), Some(&AuthPlugin::MysqlClearPassword));
        assert_eq!(
            attributes(&parsed).get("_client_name").map(String::as_str),
            Some("test")
        );
        assert!(parsed.capabilities().contains(CapabilityFlags::CLIENT_SSL));
        assert!(
            parsed
                .capabilities()
                .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
        );
        assert_eq!(&upstream_ssl_request(&r, caps)[..], &up[..32]);
    }

    #[test]
    fn the_ssl_request_names_the_same_capabilities_as_the_login() {
        // fuzz/regressions/proxy_mysql: a response without a database (CLIENT_CONNECT_WITH_DB
        // off) and upstream capabilities with it on gave an SSLRequest and a login that differ.
        let mut raw = response(
            CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_SECURE_CONNECTION,
        );
        let ClientHello::Response(r) = parse_client_hello(&raw).unwrap() else {
            panic!("not a response")
        };
        let caps = upstream_capabilities(r.capabilities(), greeting_caps())
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB;
        let without_db = HandshakeResponse::new(
            None::<Vec<u8>>,
            (10, 11, 6),
            Some(r.user().to_vec()),
            None::<Vec<u8>>,
            Some(AuthPlugin::MysqlNativePassword),
            r.capabilities(),
            None,
            1 << 24,
        );
        raw.clear();
        without_db.serialize(&mut raw);
        let ClientHello::Response(r) = parse_client_hello(&raw).unwrap() else {
            panic!("not a response")
        };
        let up = upstream_response(&r, caps, "t");
        assert_eq!(&upstream_ssl_request(&r, caps)[..], &up[..32]);
    }

    #[test]
    fn ssl_requests_and_compression_are_recognised() {
        let caps = CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_SSL;
        let mut ssl = caps.bits().to_le_bytes().to_vec();
        ssl.resize(32, 0);
        assert!(matches!(
            parse_client_hello(&ssl),
            Ok(ClientHello::SslRequest)
        ));
        assert!(unsupported_request(CapabilityFlags::CLIENT_COMPRESS).is_some());
        assert!(parse_client_hello(&[0; 10]).is_err());
    }

    #[test]
    fn change_user_round_trips() {
        let caps = CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_CONNECT_ATTRS;
        let mut attrs = BTreeMap::new();
        attrs.insert("k".to_owned(), "v".to_owned());
        let change = ChangeUser {
            user: b"other".to_vec(),
            auth_response: vec![],
            database: b"db".to_vec(),
            charset: Some(45),
            plugin: Some(CHANGE_USER_PLUGIN.to_vec()),
            attributes: attrs,
        };
        let packet = upstream_change_user(&change, caps, 8);
        assert_eq!(parse_change_user(&packet, caps).unwrap(), change);
        assert!(parse_change_user(&[COM_CHANGE_USER, b'a'], caps).is_err());
    }

    #[test]
    fn server_replies_are_sorted() {
        assert_eq!(server_reply(&[0, 0, 0, 2, 0, 0, 0]), ServerReply::Ok);
        assert_eq!(server_reply(b"\xffxx"), ServerReply::Err);
        assert_eq!(
            server_reply(b"\xfemysql_clear_password\0"),
            ServerReply::SwitchToClear
        );
        assert_eq!(
            server_reply(b"\xfemysql_native_password\0abc"),
            ServerReply::SwitchTo("mysql_native_password".into())
        );
        assert!(matches!(server_reply(b"\x01x"), ServerReply::Unexpected(_)));
        assert_eq!(
            err_message(b"\xff\x15\x04#28000Access denied"),
            "1045: Access denied"
        );
    }

    #[test]
    fn native_passwords_are_checked() {
        let nonce = b"abcdefghijklmnopqrst";
        let answer =
            mysql_common::auth::plugins::mysql_native_password::scramble_native(nonce, b"pw")
                .unwrap();
        assert!(native_password_ok(nonce, "pw", &answer));
        assert!(!native_password_ok(nonce, "other", &answer));
        assert!(!native_password_ok(nonce, "pw", &[]));
        assert!(!native_password_ok(nonce, "", &[]));
    }
}
