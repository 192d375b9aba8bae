//! The proxy's own parsers of user-written text: the `--config` TOML file, the local password
//! file, and the small values of the command line (listen address, HOST:PORT, duration, mode).
//!
//! Properties: no panic; a file that parses holds at least one listener, every one of which
//! passes its own validation, with unique names, and a non-loopback listener only with local
//! authentication and client TLS; parsing is deterministic; a password file's error never
//! quotes a password; a duration or mode that parses is within its range.
#![no_main]

use iam_db_auth_cli::proxy::config::{
    ListenAddr, parse_duration, parse_file, parse_mode, split_host_port,
};
use iam_db_auth_cli::proxy::context::parse_local_users;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

/// The fixed text of the password file's messages.
const FIXED_WORDS: [&str; 6] = [
    "line ",
    ": expected user:password",
    ": empty user or password",
    ": user '",
    "' is listed twice",
    "no user:password line",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    match parse_file(text) {
        Ok(config) => {
            assert!(!config.listeners.is_empty());
            assert!(config.max_connections >= 1);
            let mut names = HashSet::new();
            for l in &config.listeners {
                assert!(l.validate().is_ok(), "{l:?}");
                assert!(names.insert(l.name.clone()), "duplicate name {:?}", l.name);
                assert!(l.socket_mode <= 0o777);
                if !l.listen.is_local() {
                    assert!(l.local_auth.is_some() && l.tls_cert.is_some() && l.tls_key.is_some());
                }
                assert!(split_host_port(&l.target).is_ok());
            }
            assert_eq!(parse_file(text), Ok(config));
        }
        Err(message) => {
            assert!(!message.is_empty());
        }
    }

    match parse_local_users(text) {
        Ok(_) => {}
        Err(message) => {
            // A password is everything after a line's first colon; none may be quoted back.
            // The message's variable parts are its line number and a user name, so only what
            // is left once the fixed words are taken out is searched (a "password" that is a
            // piece of those words, or of a user name, proves nothing).
            let mut variable = message.clone();
            for w in FIXED_WORDS {
                variable = variable.replace(w, "\u{0}");
            }
            for line in text.lines() {
                if let Some((_, password)) = line.split_once(':') {
                    let users_hold_it = text
                        .lines()
                        .any(|l| l.split(':').next().is_some_and(|u| u.contains(password)));
                    if password.trim().len() >= 8 && !users_hold_it {
                        assert!(
                            !variable.contains(password),
                            "a password file error quoted a password: {message:?}"
                        );
                    }
                }
            }
        }
    }

    for piece in text.split('\n').take(8) {
        if let Ok(addr) = ListenAddr::parse(piece) {
            // Its display parses back to the same address.
            assert_eq!(ListenAddr::parse(&addr.to_string()), Ok(addr));
        }
        if let Ok((host, port)) = split_host_port(piece) {
            assert!(!host.is_empty() && port != 0);
        }
        if let Ok(mode) = parse_mode(piece) {
            assert!(mode <= 0o777);
        }
        let _ = parse_duration(piece);
    }
});
