//! The passfile reader and writer (`iam_db_auth_cli::pgpass`) against libpq's own algorithm.
//!
//! The harness carries an independent transcription of libpq's `passwordFromFile` and
//! `pwdfMatchesString` (src/interfaces/libpq/fe-connect.c, PostgreSQL 15). For arbitrary file
//! bytes and connections:
//! - a file that parses is written back byte for byte;
//! - `lookup` finds the password libpq finds, for connections named in the file and others;
//! - after `upsert(key, token)`, the file still parses, `entry_password(key)` is the token,
//!   libpq reads the token for the key's connection unless the upsert reported an earlier
//!   line that wins, and every other line's bytes are kept;
//! - no panic anywhere (`token_expiry`, escaping, keys that cannot be written).
#![no_main]

use arbitrary::Arbitrary;
use iam_db_auth_cli::pgpass::{EntryKey, Passfile, escape, token_expiry, unescape};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    file: &'a [u8],
    /// Connections to look up: from these strings, or (when `from_file`) a line's own fields.
    lookups: Vec<(bool, &'a str, &'a str, &'a str, &'a str)>,
    upsert: Option<(&'a str, u16, &'a str, &'a str, &'a str)>,
}

/// libpq's pwdfMatchesString: the rest of the line after a field that matches `token`.
fn matches_string<'b>(buf: &'b [u8], token: &[u8]) -> Option<&'b [u8]> {
    if buf.len() >= 2 && buf[0] == b'*' && buf[1] == b':' {
        return Some(&buf[2..]);
    }
    let (mut t, mut k) = (0, 0);
    let mut bslash = false;
    while t < buf.len() {
        if buf[t] == b'\\' && !bslash {
            t += 1;
            bslash = true;
        }
        let c = buf.get(t).copied().unwrap_or(0);
        if c == b':' && k == token.len() && !bslash {
            return Some(&buf[t + 1..]);
        }
        bslash = false;
        if k == token.len() {
            return None;
        }
        if c == token[k] {
            t += 1;
            k += 1;
        } else {
            return None;
        }
    }
    None
}

/// libpq's passwordFromFile over the file's bytes (no NULs: the parser refuses those).
fn libpq_password(file: &[u8], host: &str, port: &str, db: &str, user: &str) -> Option<Vec<u8>> {
    let mut rest = file;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let mut line = &rest[..end];
        rest = &rest[end..];
        if line.first() == Some(&b'#') {
            continue;
        }
        while let [head @ .., b'\n' | b'\r'] = line {
            line = head;
        }
        if line.is_empty() {
            continue;
        }
        let Some(t) = matches_string(line, host.as_bytes())
            .and_then(|t| matches_string(t, port.as_bytes()))
            .and_then(|t| matches_string(t, db.as_bytes()))
            .and_then(|t| matches_string(t, user.as_bytes()))
        else {
            continue;
        };
        let mut password = Vec::new();
        let mut i = 0;
        while i < t.len() && t[i] != b':' {
            if t[i] == b'\\' && i + 1 < t.len() {
                i += 1;
            }
            password.push(t[i]);
            i += 1;
        }
        return Some(password);
    }
    None
}

/// The unescaped first four fields of each line that has them (connections the file names).
fn named_connections(file: &[u8]) -> Vec<[String; 4]> {
    file.split(|&b| b == b'\n')
        .filter_map(|line| {
            let mut fields = Vec::new();
            let (mut start, mut i) = (0, 0);
            while i < line.len() && fields.len() < 4 {
                match line[i] {
                    b'\\' => i += 2,
                    b':' => {
                        fields
                            .push(String::from_utf8_lossy(&unescape(&line[start..i])).into_owned());
                        i += 1;
                        start = i;
                    }
                    _ => i += 1,
                }
            }
            fields.try_into().ok()
        })
        .collect()
}

fuzz_target!(|input: Input<'_>| {
    let _ = token_expiry(input.file);
    assert_eq!(unescape(&escape(input.file)), input.file);
    let Ok(mut passfile) = Passfile::parse(input.file) else {
        return;
    };
    assert_eq!(
        &passfile.to_bytes()[..],
        input.file,
        "not written back byte for byte"
    );

    let named = named_connections(input.file);
    for (i, (from_file, host, port, db, user)) in input.lookups.iter().take(8).enumerate() {
        let conn = match (from_file, named.get(i % named.len().max(1))) {
            (true, Some(n)) => [n[0].as_str(), n[1].as_str(), n[2].as_str(), n[3].as_str()],
            _ => [*host, *port, *db, *user],
        };
        let ours = passfile
            .lookup(conn[0], conn[1], conn[2], conn[3])
            .map(|p| p.to_vec());
        let libpq = libpq_password(input.file, conn[0], conn[1], conn[2], conn[3]);
        assert_eq!(ours, libpq, "lookup of {conn:?} differs from libpq's");
    }

    let Some((host, port, db, user, token)) = input.upsert else {
        return;
    };
    let Ok(key) = EntryKey::new(host, port, db, user) else {
        return;
    };
    let before = passfile.to_bytes().to_vec();
    let Ok(upserted) = passfile.upsert(&key, token) else {
        assert!(
            token.contains(['\n', '\r', '\0']),
            "refused a token a line can hold"
        );
        assert_eq!(
            passfile.to_bytes().to_vec(),
            before,
            "a refused edit changed the file"
        );
        return;
    };
    let after = passfile.to_bytes().to_vec();
    let reparsed = Passfile::parse(&after).expect("an edited file parses");
    assert_eq!(
        reparsed.entry_password(&key).as_deref().map(|p| &p[..]),
        Some(token.as_bytes()),
        "the entry does not read back"
    );
    let bare_host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let db_for_lookup = if db == "*" { "anydb" } else { db };
    let libpq = libpq_password(&after, bare_host, &port.to_string(), db_for_lookup, user);
    if upserted.shadowed_by.is_empty() {
        assert_eq!(
            libpq.as_deref(),
            Some(token.as_bytes()),
            "libpq does not read the token written for {key:?}"
        );
    }
    // Every other line keeps its bytes. The old last line, if it had no newline and a line was
    // appended after it, gains the file's usual ending (`\n` or `\r\n`).
    let mut old: Vec<&[u8]> = before.split(|&b| b == b'\n').collect();
    let mut new: Vec<&[u8]> = after.split(|&b| b == b'\n').collect();
    new.remove(upserted.line - 1);
    if upserted.replaced {
        old.remove(upserted.line - 1);
    }
    old.retain(|l| !l.is_empty());
    new.retain(|l| !l.is_empty());
    assert_eq!(old.len(), new.len(), "a line was added or lost");
    let last = old.len().saturating_sub(1);
    for (i, (o, n)) in old.iter().zip(&new).enumerate() {
        let gained_cr = i == last && n.strip_suffix(b"\r") == Some(o);
        assert!(o == n || gained_cr, "line {} changed", i + 1);
    }
});
