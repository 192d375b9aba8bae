//! What a passfile entry is for (the first four fields of its line: host, port, database,
//! user, each a value or `*`) and how the helper writes its line.

use super::fields::escape;
use std::fmt;
use zeroize::Zeroizing;

/// A field of a passfile entry: `*` or a literal value (unescaped bytes).
#[derive(Clone, PartialEq, Eq)]
pub enum Field {
    /// `*`: matches anything.
    Any,
    /// A literal value, unescaped.
    Value(Vec<u8>),
}

impl Field {
    fn escaped(&self) -> Vec<u8> {
        match self {
            Field::Any => b"*".to_vec(),
            Field::Value(v) => escape(v),
        }
    }

    /// Whether this field (in a line) matches every value `other` (in another line) matches.
    fn covers(&self, other: &Field) -> bool {
        match (self, other) {
            (Field::Any, _) => true,
            (Field::Value(a), Field::Value(b)) => a == b,
            (Field::Value(_), Field::Any) => false,
        }
    }

    /// Whether some connection matches both fields.
    fn overlaps(&self, other: &Field) -> bool {
        match (self, other) {
            (Field::Any, _) | (_, Field::Any) => true,
            (Field::Value(a), Field::Value(b)) => a == b,
        }
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Any => f.write_str("*"),
            Field::Value(v) => write!(f, "{:?}", String::from_utf8_lossy(v)),
        }
    }
}

/// What an entry is for: the first four fields of a passfile line.
#[derive(Clone, PartialEq, Eq)]
pub struct EntryKey {
    /// The host as the client names it (`host=`), or `*`.
    pub host: Field,
    /// The port as the client names it (`port=`, default `5432`), or `*`.
    pub port: Field,
    /// The database, or `*`.
    pub dbname: Field,
    /// The user, or `*`.
    pub user: Field,
}

impl EntryKey {
    /// The key for a host, port, database (`*` for any) and user, as the helper writes it.
    ///
    /// A bracketed IPv6 host (`[::1]`, how tokens name it) is written bare (`::1`, escaped),
    /// because libpq compares the field with the `host=` the client passes, which has no
    /// brackets. Fails when a value cannot be written in a passfile at all (a newline, NUL).
    pub fn new(host: &str, port: u16, dbname: &str, user: &str) -> Result<EntryKey, String> {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        for (name, value) in [("host", host), ("database", dbname), ("user", user)] {
            if value.is_empty() {
                return Err(format!("the {name} is empty"));
            }
            if value.contains(['\n', '\r', '\0']) {
                return Err(format!(
                    "the {name} '{}' contains a line break or NUL, which a passfile cannot hold",
                    value.escape_debug()
                ));
            }
        }
        if host == "*" || user == "*" {
            return Err("the host and the user must be named, not '*'".into());
        }
        Ok(EntryKey {
            host: Field::Value(host.as_bytes().to_vec()),
            port: Field::Value(port.to_string().into_bytes()),
            dbname: if dbname == "*" {
                Field::Any
            } else {
                Field::Value(dbname.as_bytes().to_vec())
            },
            user: Field::Value(user.as_bytes().to_vec()),
        })
    }

    pub(crate) fn fields(&self) -> [&Field; 4] {
        [&self.host, &self.port, &self.dbname, &self.user]
    }

    /// Whether this key matches every connection `other` matches.
    pub fn covers(&self, other: &EntryKey) -> bool {
        self.fields()
            .iter()
            .zip(other.fields())
            .all(|(a, b)| a.covers(b))
    }

    /// Whether some connection matches both keys.
    pub fn overlaps(&self, other: &EntryKey) -> bool {
        self.fields()
            .iter()
            .zip(other.fields())
            .all(|(a, b)| a.overlaps(b))
    }

    /// The line for this key and a password: every field escaped, no line ending.
    pub fn line(&self, password: &str) -> Zeroizing<Vec<u8>> {
        let mut line = Zeroizing::new(Vec::with_capacity(password.len() + 128));
        for field in self.fields() {
            let escaped = field.escaped();
            if line.is_empty() && escaped.first() == Some(&b'#') {
                // A line starting with `#` is a comment to libpq; `\#` reads as a literal `#`,
                // so an entry for a host starting with `#` is still read.
                line.push(b'\\');
            }
            line.extend_from_slice(&escaped);
            line.push(b':');
        }
        line.extend_from_slice(&escape(password.as_bytes()));
        line
    }
}

impl fmt::Display for EntryKey {
    /// `host:port:database:user`, escaped as in the file (no password: keys are not secret).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields()
            .iter()
            .map(|field| String::from_utf8_lossy(&field.escaped()).into_owned())
            .collect();
        f.write_str(&parts.join(":"))
    }
}

impl fmt::Debug for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgpass::Passfile;

    fn key(db: &str) -> EntryKey {
        EntryKey::new("db.example.com", 5432, db, "app").unwrap()
    }

    #[test]
    fn an_entry_line_escapes_every_field() {
        let k = EntryKey::new("h", 5432, "d:b", "u\\ser").unwrap();
        assert_eq!(&k.line("p:w")[..], b"h:5432:d\\:b:u\\\\ser:p\\:w");
        assert_eq!(&key("*").line("x")[..], b"db.example.com:5432:*:app:x");
        assert_eq!(k.to_string(), "h:5432:d\\:b:u\\\\ser");
    }

    #[test]
    fn ipv6_hosts_are_written_without_brackets() {
        let k = EntryKey::new("[::1]", 5432, "*", "app").unwrap();
        assert_eq!(&k.line("x")[..], b"\\:\\:1:5432:*:app:x");
        let mut p = Passfile::empty();
        p.upsert(&k, "tok").unwrap();
        let reread = Passfile::parse(&p.to_bytes()).unwrap();
        assert_eq!(
            &reread.lookup("::1", "5432", "db", "app").unwrap()[..],
            b"tok"
        );
    }

    #[test]
    fn keys_that_cannot_be_written_are_refused() {
        assert!(EntryKey::new("h", 1, "d", "a\nb").is_err());
        assert!(EntryKey::new("h", 1, "d\r", "u").is_err());
        assert!(EntryKey::new("h", 1, "", "u").is_err());
        assert!(EntryKey::new("*", 1, "d", "u").is_err());
        assert!(EntryKey::new("h", 1, "d", "*").is_err());
    }
}
