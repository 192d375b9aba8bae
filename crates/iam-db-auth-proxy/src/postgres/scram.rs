//! SCRAM-SHA-256 (RFC 5802/7677), the server's side, for listeners with local users: the
//! client proves it knows the local password; the password itself never crosses the wire and
//! never goes upstream. Channel binding (SCRAM-SHA-256-PLUS) is not offered, so clients use
//! `channel_binding=disable` or `prefer` (libpq's default).
//!
//! `first` and `finish` are pure (randomness is passed in), for the tests and the fuzz target.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const MECHANISM: &str = "SCRAM-SHA-256";
/// The server's iteration count (PostgreSQL's default, `scram_iterations`).
pub const ITERATIONS: u32 = 4096;

/// What the server keeps between its first message and the client's final one.
pub struct Exchange {
    salted_password: Zeroizing<[u8; 32]>,
    gs2_header: String,
    nonce: String,
    client_first_bare: String,
    server_first: String,
}

/// The client's first message: answers with the server's first message.
/// `server_nonce` is random printable text without commas; `salt` is random bytes.
pub fn first(
    password: &str,
    client_first: &[u8],
    server_nonce: &str,
    salt: &[u8],
) -> Result<(Exchange, String), String> {
    let client_first =
        std::str::from_utf8(client_first).map_err(|_| "a SCRAM message that is not UTF-8")?;
    // gs2-header: cbind-flag "," [authzid] ","
    let mut parts = client_first.splitn(3, ',');
    let flag = parts.next().unwrap_or_default();
    let authzid = parts
        .next()
        .ok_or("a SCRAM client-first-message without its header")?;
    let bare = parts
        .next()
        .ok_or("a SCRAM client-first-message without its body")?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => {
            return Err("channel binding was asked for, but not offered".into());
        }
        _ => return Err("a SCRAM client-first-message with a bad header".into()),
    }
    if !authzid.is_empty() {
        return Err("SCRAM authorization identities are not supported".into());
    }
    // The user name (n=) is ignored, as PostgreSQL does: the startup packet named the user.
    let client_nonce = bare
        .split(',')
        .find_map(|attr| attr.strip_prefix("r="))
        .ok_or("a SCRAM client-first-message without a nonce")?;
    if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("a SCRAM client nonce with characters it may not hold".into());
    }
    if bare.starts_with("m=") {
        return Err("a SCRAM extension this server does not support".into());
    }
    let nonce = format!("{client_nonce}{server_nonce}");
    let server_first = format!("r={nonce},s={},i={ITERATIONS}", STANDARD.encode(salt));
    let exchange = Exchange {
        salted_password: Zeroizing::new(hi(&normalize(password), salt, ITERATIONS)),
        gs2_header: format!("{flag},{authzid},"),
        nonce,
        client_first_bare: bare.to_owned(),
        server_first: server_first.clone(),
    };
    Ok((exchange, server_first))
}

/// The client's final message: checks its proof; answers with the server's final message.
pub fn finish(exchange: &Exchange, client_final: &[u8]) -> Result<String, String> {
    let client_final =
        std::str::from_utf8(client_final).map_err(|_| "a SCRAM message that is not UTF-8")?;
    let (without_proof, proof) = client_final
        .rsplit_once(",p=")
        .ok_or("a SCRAM client-final-message without a proof")?;
    let mut attrs = without_proof.split(',');
    let binding = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or("a SCRAM client-final-message without channel binding data")?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or("a SCRAM client-final-message without a nonce")?;
    if STANDARD.decode(binding).ok().as_deref() != Some(exchange.gs2_header.as_bytes()) {
        return Err("SCRAM channel binding data does not match".into());
    }
    if nonce != exchange.nonce {
        return Err("the SCRAM nonce does not match".into());
    }
    let proof = STANDARD
        .decode(proof)
        .map_err(|_| "a SCRAM proof that is not base64")?;
    if proof.len() != 32 {
        return Err("a SCRAM proof of the wrong length".into());
    }
    let auth_message = format!(
        "{},{},{}",
        exchange.client_first_bare, exchange.server_first, without_proof
    );
    let client_key = hmac(&exchange.salted_password[..], b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let mut claimed = [0u8; 32];
    for (i, byte) in claimed.iter_mut().enumerate() {
        *byte = proof[i] ^ signature[i];
    }
    let claimed_stored: [u8; 32] = Sha256::digest(claimed).into();
    if !bool::from(claimed_stored.ct_eq(&stored_key)) {
        return Err("wrong password".into());
    }
    let server_key = hmac(&exchange.salted_password[..], b"Server Key");
    let server_signature = hmac(&server_key, auth_message.as_bytes());
    Ok(format!("v={}", STANDARD.encode(server_signature)))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 with one block (RFC 5802's Hi).
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut salt_block = salt.to_vec();
    salt_block.extend_from_slice(&1u32.to_be_bytes());
    let mut previous = hmac(password, &salt_block);
    let mut result = previous;
    for _ in 1..iterations {
        previous = hmac(password, &previous);
        for (r, p) in result.iter_mut().zip(previous) {
            *r ^= p;
        }
    }
    result
}

/// SASLprep, as libpq and the server apply it; a password it rejects is used as it is (as
/// PostgreSQL does).
fn normalize(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(match stringprep::saslprep(password) {
        Ok(prepared) => prepared.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    fn run(server_password: &str, client_password: &str) -> Result<(), String> {
        let mut client =
            ScramSha256::new(client_password.as_bytes(), ChannelBinding::unsupported());
        let (exchange, server_first) = first(
            server_password,
            client.message(),
            "SERVERNONCE0123",
            b"salt-bytes-16-ab",
        )?;
        client
            .update(server_first.as_bytes())
            .map_err(|e| e.to_string())?;
        let server_final = finish(&exchange, client.message())?;
        client
            .finish(server_final.as_bytes())
            .map_err(|e| format!("client refused the server: {e}"))
    }

    #[test]
    fn postgres_protocols_client_logs_in() {
        run("local secret", "local secret").unwrap();
        run("pässwörd\u{00a0}", "pässwörd ").unwrap();
    }

    #[test]
    fn wrong_password_is_refused() {
        assert_eq!(run("right", "wrong"), Err("wrong password".into()));
    }

    #[test]
    fn channel_binding_and_bad_messages_are_refused() {
        assert!(first("pw", b"p=tls-server-end-point,,n=,r=abc", "x", b"s").is_err());
        assert!(first("pw", b"n,,n=,r=", "x", b"s").is_err());
        assert!(first("pw", b"n,a=someone,n=,r=abc", "x", b"s").is_err());
        assert!(first("pw", b"n,,", "x", b"s").is_err());
        let (exchange, _) = first("pw", b"n,,n=,r=abc", "xyz", b"s").unwrap();
        assert!(finish(&exchange, b"c=biws,r=abcxyz").is_err());
        assert!(finish(&exchange, b"c=biws,r=other,p=AAAA").is_err());
        assert!(finish(&exchange, b"c=eSws,r=abcxyz,p=AAAA").is_err());
    }
}
