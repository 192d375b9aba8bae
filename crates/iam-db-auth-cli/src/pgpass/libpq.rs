//! libpq's matching rules (`passwordFromFile` and `pwdfMatchesString` in
//! `src/interfaces/libpq/fe-connect.c`), emulated on a line's bytes:
//! - one entry a line, `hostname:port:database:username:password`; trailing `\r` and `\n` are
//!   stripped; empty lines and lines whose first byte is `#` are skipped;
//! - inside a field, `\` escapes the next byte (so `\:` is a literal colon and `\\` a
//!   backslash); an unescaped `:` ends the field;
//! - each of the first four fields is either `*` (exactly, followed by `:`), which matches
//!   anything, or a literal compared byte for byte with the connection's host, port (as a
//!   string), database and user;
//! - the first matching line wins; its password runs to the next unescaped `:` or the end;
//! - lines with fewer than four unescaped `:` never match.
//!
//! libpq compares a value with the line byte by byte, colons included, and a field ends only
//! where the value does: a value with a `:` (the unbracketed IPv6 host `::1`) matches
//! `::1:5432:...`. So which line wins is decided here on the bytes, not on the fields as
//! parsed.

use super::entry::{EntryKey, Field};
use super::fields::{first_field, unescape, without_cr};
use zeroize::Zeroizing;

/// The password libpq takes from `line` (an entry line, its ending removed) for a connection
/// to `host`, `port`, `dbname` as `user`, de-escaped; `None` if the line does not match.
pub(crate) fn password(
    line: &[u8],
    [host, port, dbname, user]: [&str; 4],
) -> Option<Zeroizing<Vec<u8>>> {
    let rest = [host, port, dbname, user]
        .iter()
        .try_fold(without_cr(line), |rest, value| {
            field_match(rest, value.as_bytes())
        })?;
    Some(first_field(rest))
}

/// Whether libpq, reading `line` (an entry line whose fields parse as `parsed`), takes it for
/// some of the connections `key` is for (`Some(false)`) or for all of them (`Some(true)`).
///
/// By the fields as parsed, and also by libpq's matcher run on the line's bytes, which
/// differs when a value holds a `:`: an unescaped `::1:5432:...` line written by hand wins
/// for host `::1` in libpq, so it must be reported, and the entry put before it.
pub(crate) fn shadows(line: &[u8], parsed: &EntryKey, key: &EntryKey) -> Option<bool> {
    let by_fields = parsed.overlaps(key).then(|| parsed.covers(key));
    let by_libpq = shadows_by_bytes(line, key);
    match (by_fields, by_libpq) {
        (None, None) => None,
        (a, b) => Some(a == Some(true) || b == Some(true)),
    }
}

/// [`shadows`] by libpq's matcher. The key's host, port and user are values; a database of
/// `*` means every database: the line takes all of them if its database field is `*`, some of
/// them if any value ending before one of its unescaped `:` leads on to a match of the user.
fn shadows_by_bytes(line: &[u8], key: &EntryKey) -> Option<bool> {
    let value = |f: &Field| match f {
        Field::Value(v) => Some(v.clone()),
        Field::Any => None,
    };
    let (host, port, user) = (value(&key.host)?, value(&key.port)?, value(&key.user)?);
    let rest = field_match(without_cr(line), &host)?;
    let rest = field_match(rest, &port)?;
    match &key.dbname {
        Field::Value(db) => {
            let rest = field_match(rest, db)?;
            field_match(rest, &user).map(|_| true)
        }
        Field::Any => {
            if let Some(after) = rest.strip_prefix(b"*:")
                && field_match(after, &user).is_some()
            {
                return Some(true);
            }
            // Every database value that ends where the line has an unescaped ':'.
            let mut i = 0;
            while i < rest.len() {
                match rest[i] {
                    b'\\' => i += 2,
                    b':' => {
                        let db = unescape(&rest[..i]);
                        if field_match(rest, &db)
                            .and_then(|r| field_match(r, &user))
                            .is_some()
                        {
                            return Some(false);
                        }
                        i += 1;
                    }
                    _ => i += 1,
                }
            }
            None
        }
    }
}

/// libpq's `pwdfMatchesString` (fe-connect.c): if the line, from `buf`, starts with a field
/// that matches `value`, the rest of the line after that field's `:`. `*:` matches anything;
/// otherwise the bytes are compared one by one (`\` makes the next byte literal), and the field
/// must end with an unescaped `:` exactly where `value` ends, so a `:` inside `value` matches a
/// `:` in the line, escaped or not.
fn field_match<'b>(buf: &'b [u8], value: &[u8]) -> Option<&'b [u8]> {
    if let [b'*', b':', rest @ ..] = buf {
        return Some(rest);
    }
    let (mut b, mut v) = (0, 0);
    while b < buf.len() {
        let escaped = buf[b] == b'\\';
        if escaped {
            b += 1;
        }
        // libpq reads the NUL that ends its C string here when `\` is the last byte.
        let byte = buf.get(b).copied().unwrap_or(0);
        if byte == b':' && v == value.len() && !escaped {
            return Some(&buf[b + 1..]);
        }
        if v == value.len() || byte != value[v] {
            return None;
        }
        b += 1;
        v += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::pgpass::{EntryKey, Passfile};

    #[test]
    fn escaped_fields_match_as_libpq_matches_them() {
        let p = Passfile::parse(b"h\\:x:5432:\\*:u:pw\\:1:extra\n").unwrap();
        // "\*" is a literal star, not a wildcard; the password ends at the unescaped colon.
        assert_eq!(&p.lookup("h:x", "5432", "*", "u").unwrap()[..], b"pw:1");
        assert!(p.lookup("h:x", "5432", "other", "u").is_none());
    }

    #[test]
    fn lookup_matches_values_with_colons_as_libpq_does() {
        // libpq's matcher compares a value's ':' with the line's, so an unbracketed IPv6
        // host line written by hand matches host ::1.
        let p = Passfile::parse(b"::1:5432:*:app:pw6\n\\:\\:2:5432:*:app:pw7\n").unwrap();
        let found = |host: &str| p.lookup(host, "5432", "db", "app").map(|v| v.to_vec());
        assert_eq!(found("::1"), Some(b"pw6".to_vec()));
        assert_eq!(found("::2"), Some(b"pw7".to_vec()));
        assert_eq!(found("1"), None);
    }

    #[test]
    fn an_earlier_line_libpq_matches_across_colons_is_reported_and_kept_behind() {
        // An unescaped, hand-written IPv6 line wins in libpq for host ::1.
        let mut p = Passfile::parse(b"::1:5432:*:app:old\n").unwrap();
        let key = EntryKey::new("[::1]", 5432, "*", "app").unwrap();
        let up = p.upsert(&key, "tok").unwrap();
        assert_eq!(
            (up.line, up.replaced),
            (1, false),
            "put before the line that hides it"
        );
        assert_eq!(
            p.lookup("::1", "5432", "db", "app").map(|v| v.to_vec()),
            Some(b"tok".to_vec())
        );
        // Kept behind something that matches only some databases: reported as partial.
        let mut p = Passfile::parse(b"::1:5432:sales:app:old\n").unwrap();
        let up = p.upsert(&key, "tok").unwrap();
        assert_eq!(up.line, 2);
        assert_eq!(up.shadowed_by.len(), 1);
        assert!(!up.shadowed_by[0].complete);
    }
}
