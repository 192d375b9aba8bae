//! The PostgreSQL proxy's client-facing parsers (`iam_db_auth_proxy::postgres::{wire, scram}`):
//! the first packet a client sends, its SASLInitialResponse, the SCRAM-SHA-256 server's two
//! steps, and the ErrorResponse the proxy writes.
//! - nothing panics, whatever the bytes;
//! - a StartupMessage that parses is written again by postgres-protocol's writer (the one the
//!   upstream leg uses) and parses back to the same parameters;
//! - a SASLInitialResponse that parses is written again by postgres-protocol and parses back;
//! - SCRAM never accepts a client-final-message built from fuzzer bytes unless it carries the
//!   proof for the password (a random proof passing would be a forged login);
//! - an ErrorResponse with any text parses back with postgres-protocol's reader, FATAL, with
//!   the text cut at its first NUL.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use iam_db_auth_proxy::postgres::{scram, wire};
use libfuzzer_sys::fuzz_target;
use postgres_protocol::message::{backend, frontend};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    first: &'a [u8],
    sasl: &'a [u8],
    client_first: &'a [u8],
    client_final: &'a [u8],
    text: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    if let Ok(wire::FirstPacket::Startup(startup)) = wire::parse_first(input.first) {
        assert_eq!(startup.major, 3);
        if startup
            .params
            .iter()
            .all(|(n, v)| !n.is_empty() && !n.contains('\0') && !v.contains('\0'))
        {
            let mut buf = BytesMut::new();
            frontend::startup_message(
                startup.params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                &mut buf,
            )
            .unwrap();
            match wire::parse_first(&buf[4..]) {
                Ok(wire::FirstPacket::Startup(again)) => assert_eq!(again.params, startup.params),
                other => panic!("a startup packet did not parse back: {other:?}"),
            }
        }
    }

    if let Ok((mechanism, data)) = wire::parse_sasl_initial(input.sasl) {
        let mut buf = BytesMut::new();
        frontend::sasl_initial_response(mechanism, data, &mut buf).unwrap();
        assert_eq!(wire::parse_sasl_initial(&buf[5..]), Ok((mechanism, data)));
    }

    // Few iterations of PBKDF2 would be faster, but the server's count is fixed: keep the
    // password short and let the fuzzer spend its time on the parsers.
    if let Ok((exchange, server_first)) = scram::first("pw", input.client_first, "SNONCE", b"salt")
    {
        assert!(server_first.starts_with("r="));
        if scram::finish(&exchange, input.client_final).is_ok() {
            // Only a proof made with the password passes; the fuzzer cannot make one by
            // chance (2^-256), so an accepted input would be a forgery.
            panic!("SCRAM accepted a client-final-message the fuzzer made");
        }
    }

    let mut buf = BytesMut::new();
    wire::error_response("08006", input.text, &mut buf);
    match backend::Message::parse(&mut buf) {
        Ok(Some(backend::Message::ErrorResponse(body))) => {
            let fields: Vec<(u8, Vec<u8>)> = body
                .fields()
                .map(|f| Ok((f.type_(), f.value_bytes().to_vec())))
                .collect()
                .unwrap();
            let cut = input.text.split('\0').next().unwrap_or_default();
            assert!(fields.contains(&(b'M', cut.as_bytes().to_vec())));
            assert!(fields.contains(&(b'S', b"FATAL".to_vec())));
            assert!(buf.is_empty());
        }
        _ => panic!("the proxy's ErrorResponse does not parse"),
    }
});
