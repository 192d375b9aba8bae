//! A passfile as lines, parsed and written back byte for byte, and the one edit the helper
//! makes: put an entry's password in, where libpq will find it.

use super::entry::{EntryKey, Field};
use super::fields::{password_of, split_fields, unescape, without_cr};
use super::libpq;
use std::fmt;
use zeroize::Zeroizing;

/// The largest passfile the helper edits. Real ones are a few kilobytes; anything near this is
/// not a passfile (or not one to rewrite blindly).
pub const MAX_FILE_LEN: usize = 1 << 20;

/// How a line ends in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// The last line of a file that does not end with a newline.
    None,
}

impl Ending {
    fn bytes(self) -> &'static [u8] {
        match self {
            Ending::Lf => b"\n",
            Ending::CrLf => b"\r\n",
            Ending::None => b"",
        }
    }
}

/// One line as stored: its bytes (without the ending) and its ending.
struct Line {
    content: Zeroizing<Vec<u8>>,
    ending: Ending,
    kind: Kind,
}

impl Line {
    /// Whether libpq, reading this line, takes it for some of the connections `key` is for
    /// (`Some(false)`) or for all of them (`Some(true)`); see [`libpq::shadows`].
    fn shadows(&self, key: &EntryKey) -> Option<bool> {
        match &self.kind {
            Kind::Entry(parsed) => libpq::shadows(&self.content, parsed, key),
            _ => None,
        }
    }
}

/// What libpq makes of a line.
enum Kind {
    /// Empty or only blanks: skipped.
    Blank,
    /// Starts with `#` (or blanks then `#`): skipped.
    Comment,
    /// Five or more fields.
    Entry(EntryKey),
}

/// Why a passfile was not edited. Names the line, never shows its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line (1-based), when one is to blame.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "line {n}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for ParseError {}

/// Where an edit put the entry, and which earlier lines libpq may use instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upserted {
    /// The entry's line (1-based) in the new file.
    pub line: usize,
    /// True when an existing entry was replaced; false when a line was added.
    pub replaced: bool,
    /// Earlier entry lines that match some of the same connections (libpq takes the first
    /// match, so these win for the connections they match).
    pub shadowed_by: Vec<Shadow>,
}

/// An earlier line that matches connections the entry is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shadow {
    /// The earlier line (1-based, in the new file).
    pub line: usize,
    /// Its key.
    pub key: EntryKey,
    /// True when it matches every connection the entry is for (the entry is never used).
    pub complete: bool,
}

/// A parsed passfile that can be written back byte for byte.
pub struct Passfile {
    lines: Vec<Line>,
}

impl fmt::Debug for Passfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passfile({} lines, contents redacted)", self.lines.len())
    }
}

impl Passfile {
    /// An empty passfile (a file that does not exist yet).
    pub fn empty() -> Passfile {
        Passfile { lines: Vec::new() }
    }

    /// Parses a passfile. Refuses what it cannot rewrite without changing what libpq reads
    /// or what the file's owner meant: NUL bytes (libpq stops reading a line there), files
    /// over [`MAX_FILE_LEN`], and lines that are neither blank, a comment nor an entry of five
    /// fields (libpq silently ignores those; they are usually a typo or the wrong file).
    pub fn parse(bytes: &[u8]) -> Result<Passfile, ParseError> {
        if bytes.len() > MAX_FILE_LEN {
            return Err(ParseError {
                line: None,
                reason: format!(
                    "the file is {} bytes; a passfile this large is not edited (limit {MAX_FILE_LEN})",
                    bytes.len()
                ),
            });
        }
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let number = lines.len() + 1;
            let (raw, ending, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) if i > 0 && rest[i - 1] == b'\r' => (&rest[..i - 1], Ending::CrLf, i + 1),
                Some(i) => (&rest[..i], Ending::Lf, i + 1),
                None => (rest, Ending::None, rest.len()),
            };
            rest = &rest[next..];
            if raw.contains(&0) {
                return Err(ParseError {
                    line: Some(number),
                    reason: "contains a NUL byte; libpq stops reading a line there, so this is not a text passfile".into(),
                });
            }
            let kind = classify(raw).map_err(|reason| ParseError {
                line: Some(number),
                reason,
            })?;
            lines.push(Line {
                content: Zeroizing::new(raw.to_vec()),
                ending,
                kind,
            });
        }
        Ok(Passfile { lines })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let len = self
            .lines
            .iter()
            .map(|l| l.content.len() + 2)
            .sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        for line in &self.lines {
            out.extend_from_slice(&line.content);
            out.extend_from_slice(line.ending.bytes());
        }
        out
    }

    /// The number of lines.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The password libpq would use for a connection, as libpq finds it: the first entry line
    /// that libpq's field matcher accepts for the four values, de-escaped. `None` if no line
    /// matches.
    ///
    /// libpq compares each value with the line byte by byte, colons included, and a field ends
    /// only where the value does: a value with a `:` such as the unbracketed IPv6 host `::1`
    /// matches `::1:5432:...`, which splitting the line into fields first would miss (see
    /// `libpq.rs`).
    pub fn lookup(
        &self,
        host: &str,
        port: &str,
        dbname: &str,
        user: &str,
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.lines.iter().find_map(|line| match line.kind {
            // Comments, blanks and indented `#` lines with too few fields to match.
            Kind::Entry(_) => libpq::password(&line.content, [host, port, dbname, user]),
            Kind::Blank | Kind::Comment => None,
        })
    }

    /// The password of the first line with exactly this key, if any.
    pub fn entry_password(&self, key: &EntryKey) -> Option<Zeroizing<Vec<u8>>> {
        self.lines.iter().find_map(|line| match &line.kind {
            Kind::Entry(k) if k == key => Some(password_of(&line.content)),
            _ => None,
        })
    }

    /// Sets the password of the entry with exactly this key: the first such line is rewritten
    /// in place (keeping its line ending); if there is none, a line is added before the first
    /// line that matches every connection the key is for (a catch-all such as `*:*:*:*:pw`
    /// would otherwise hide it), else at the end. Every other line keeps its bytes, except that
    /// a last line without a newline gets one when a line is added after it.
    ///
    /// Refuses a password with a line break or a NUL, which no passfile line can hold: it
    /// would split the line, or end libpq's reading of it.
    pub fn upsert(&mut self, key: &EntryKey, password: &str) -> Result<Upserted, ParseError> {
        if password.contains(['\n', '\r', '\0']) {
            return Err(ParseError {
                line: None,
                reason: "the password contains a line break or NUL, which a passfile cannot hold"
                    .into(),
            });
        }
        let content = key.line(password);
        let existing = self
            .lines
            .iter()
            .position(|l| matches!(&l.kind, Kind::Entry(k) if k == key));
        let (index, replaced) = match existing {
            Some(i) => {
                self.lines[i].content = content;
                (i, true)
            }
            None => {
                let ending = self.usual_ending();
                let before = self.lines.iter().position(|l| l.shadows(key) == Some(true));
                let index = match before {
                    Some(i) => i,
                    None => {
                        // Appending after a last line that has no newline: that line needs
                        // one; the new line then carries none, as the file did not.
                        let ending = match self.lines.last_mut() {
                            Some(last) if last.ending == Ending::None => {
                                last.ending = ending;
                                Ending::None
                            }
                            _ => ending,
                        };
                        self.lines.push(Line {
                            content,
                            ending,
                            kind: Kind::Entry(key.clone()),
                        });
                        return Ok(self.upserted(self.lines.len() - 1, false, key));
                    }
                };
                self.lines.insert(
                    index,
                    Line {
                        content,
                        ending,
                        kind: Kind::Entry(key.clone()),
                    },
                );
                (index, false)
            }
        };
        Ok(self.upserted(index, replaced, key))
    }

    fn upserted(&self, index: usize, replaced: bool, key: &EntryKey) -> Upserted {
        let shadowed_by = self.lines[..index]
            .iter()
            .enumerate()
            .filter_map(|(i, line)| match (&line.kind, line.shadows(key)) {
                (Kind::Entry(k), Some(complete)) => Some(Shadow {
                    line: i + 1,
                    key: k.clone(),
                    complete,
                }),
                _ => None,
            })
            .collect();
        Upserted {
            line: index + 1,
            replaced,
            shadowed_by,
        }
    }

    /// `\r\n` if the file's lines all end so, else `\n`.
    fn usual_ending(&self) -> Ending {
        let mut endings = self.lines.iter().map(|l| l.ending);
        let crlf = endings.clone().any(|e| e == Ending::CrLf);
        if crlf && endings.all(|e| e != Ending::Lf) {
            Ending::CrLf
        } else {
            Ending::Lf
        }
    }
}

/// What libpq makes of a line (its bytes without the ending).
fn classify(raw: &[u8]) -> Result<Kind, String> {
    let text = without_cr(raw);
    // libpq skips a line as a comment only when its very first byte is `#`.
    if text.first() == Some(&b'#') {
        return Ok(Kind::Comment);
    }
    let first = text.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let Some(first) = first else {
        return Ok(Kind::Blank);
    };
    let (fields, _password) = split_fields(text);
    // An indented `#` line is not a comment to libpq: it is read as an entry, and with fewer
    // than four fields it matches nothing, so it is as good as one. With four or more it is an
    // entry whose host starts with blanks and `#`.
    if text[first] == b'#' && fields.len() < 4 {
        return Ok(Kind::Comment);
    }
    if fields.len() < 4 {
        return Err(format!(
            "not a passfile entry: {} of the 5 fields hostname:port:database:username:password \
             (a ':' or '\\' inside a field is written '\\:' or '\\\\'); fix the line, or comment \
             it out with '#'",
            fields.len() + 1
        ));
    }
    let field = |raw: &[u8]| {
        if raw == b"*" {
            Field::Any
        } else {
            Field::Value(unescape(raw))
        }
    };
    Ok(Kind::Entry(EntryKey {
        host: field(fields[0]),
        port: field(fields[1]),
        dbname: field(fields[2]),
        user: field(fields[3]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgpass::TEST_TOKEN as TOKEN;

    fn key(db: &str) -> EntryKey {
        EntryKey::new("db.example.com", 5432, db, "app").unwrap()
    }

    fn text(p: &Passfile) -> String {
        String::from_utf8(p.to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn a_token_written_is_the_token_libpq_reads() {
        let mut p = Passfile::empty();
        let up = p.upsert(&key("*"), TOKEN).unwrap();
        assert_eq!((up.line, up.replaced), (1, false));
        let bytes = p.to_bytes();
        assert!(bytes.ends_with(b"\n"));
        // The token's own "host:port" colon is escaped.
        assert!(bytes.starts_with(b"db.example.com:5432:*:app:db.example.com\\:5432/?Action"));
        let reread = Passfile::parse(&bytes).unwrap();
        let got = reread
            .lookup("db.example.com", "5432", "anydb", "app")
            .unwrap();
        assert_eq!(&got[..], TOKEN.as_bytes());
        assert!(
            reread
                .lookup("db.example.com", "5433", "x", "app")
                .is_none()
        );
        assert!(
            reread
                .lookup("db.example.com", "5432", "x", "other")
                .is_none()
        );
    }

    #[test]
    fn every_other_line_is_kept_byte_for_byte() {
        let original = "# my passwords\r\n\
                        other.host:5432:*:bob:s3cr\\:et\n\
                        \n\
                        db.example.com:5432:*:app:OLDTOKEN\n\
                        \t# indented comment\n\
                        *:*:*:*:catchall";
        let mut p = Passfile::parse(original.as_bytes()).unwrap();
        let up = p.upsert(&key("*"), "NEW").unwrap();
        assert_eq!((up.line, up.replaced), (4, true));
        assert_eq!(
            text(&p),
            original.replace(
                "db.example.com:5432:*:app:OLDTOKEN",
                "db.example.com:5432:*:app:NEW"
            )
        );
    }

    #[test]
    fn a_new_entry_goes_before_a_catch_all_that_would_hide_it() {
        let original = "other:5432:*:bob:pw\n*:*:*:*:catchall\n";
        let mut p = Passfile::parse(original.as_bytes()).unwrap();
        let up = p.upsert(&key("*"), "T").unwrap();
        assert_eq!((up.line, up.replaced), (2, false));
        assert!(up.shadowed_by.is_empty());
        assert_eq!(
            text(&p),
            "other:5432:*:bob:pw\ndb.example.com:5432:*:app:T\n*:*:*:*:catchall\n"
        );
        assert_eq!(
            &p.lookup("db.example.com", "5432", "x", "app").unwrap()[..],
            b"T"
        );
    }

    #[test]
    fn earlier_lines_that_win_are_reported() {
        // An existing entry after a catch-all: replaced in place, and the catch-all reported.
        let original = "*:5432:*:app:pw\ndb.example.com:5432:*:app:OLD\n";
        let mut p = Passfile::parse(original.as_bytes()).unwrap();
        let up = p.upsert(&key("*"), "T").unwrap();
        assert_eq!((up.line, up.replaced), (2, true));
        assert_eq!(up.shadowed_by.len(), 1);
        assert_eq!(up.shadowed_by[0].line, 1);
        assert!(up.shadowed_by[0].complete);
        // A more specific earlier line wins for its database only.
        let original = "db.example.com:5432:reports:app:pw\n";
        let mut p = Passfile::parse(original.as_bytes()).unwrap();
        let up = p.upsert(&key("*"), "T").unwrap();
        assert_eq!((up.line, up.replaced), (2, false));
        assert_eq!(up.shadowed_by.len(), 1);
        assert!(!up.shadowed_by[0].complete);
        assert_eq!(
            up.shadowed_by[0].key.to_string(),
            "db.example.com:5432:reports:app"
        );
    }

    #[test]
    fn line_endings_and_a_missing_final_newline_are_kept() {
        // Replacing the last line, which has no newline: still none.
        let mut p = Passfile::parse(b"a:1:*:u:p\r\ndb.example.com:5432:*:app:OLD").unwrap();
        p.upsert(&key("*"), "T").unwrap();
        assert_eq!(text(&p), "a:1:*:u:p\r\ndb.example.com:5432:*:app:T");
        // Appending to a CRLF file without a final newline: CRLF added to the old last line,
        // none after the new one.
        let mut p = Passfile::parse(b"a:1:*:u:p\r\nb:1:*:u:p").unwrap();
        p.upsert(&key("*"), "T").unwrap();
        assert_eq!(
            text(&p),
            "a:1:*:u:p\r\nb:1:*:u:p\r\ndb.example.com:5432:*:app:T"
        );
        // A CRLF file gets a CRLF line.
        let mut p = Passfile::parse(b"a:1:*:u:p\r\n").unwrap();
        p.upsert(&key("*"), "T").unwrap();
        assert_eq!(text(&p), "a:1:*:u:p\r\ndb.example.com:5432:*:app:T\r\n");
        // CRLF lines are read as libpq reads them.
        assert_eq!(&p.lookup("a", "1", "x", "u").unwrap()[..], b"p");
    }

    #[test]
    fn specific_databases_and_duplicates() {
        let original = "db.example.com:5432:*:app:ANY\ndb.example.com:5432:*:app:DUP\n";
        let mut p = Passfile::parse(original.as_bytes()).unwrap();
        // A database-specific entry goes before the wildcard entry that covers it.
        let up = p.upsert(&key("sales"), "S").unwrap();
        assert_eq!((up.line, up.replaced), (1, false));
        // The first of two identical keys is the one libpq uses, and the one replaced.
        let up = p.upsert(&key("*"), "NEW").unwrap();
        assert_eq!((up.line, up.replaced), (2, true));
        assert_eq!(
            text(&p),
            "db.example.com:5432:sales:app:S\ndb.example.com:5432:*:app:NEW\ndb.example.com:5432:*:app:DUP\n"
        );
        assert_eq!(&p.entry_password(&key("*")).unwrap()[..], b"NEW");
        assert_eq!(
            &p.lookup("db.example.com", "5432", "sales", "app").unwrap()[..],
            b"S"
        );
    }

    #[test]
    fn what_cannot_be_parsed_safely_is_refused() {
        let e = Passfile::parse(b"# ok\nhost:5432:db:user\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.reason.contains("4 of the 5 fields"), "{e}");
        let e = Passfile::parse(b"a:1:*:u:p\0q\n").unwrap_err();
        assert!(e.reason.contains("NUL"), "{e}");
        assert_eq!(e.line, Some(1));
        let e = Passfile::parse(&vec![b'#'; MAX_FILE_LEN + 1]).unwrap_err();
        assert!(e.reason.contains("not edited"), "{e}");
        // An escaped colon does not count as a separator.
        assert!(Passfile::parse(b"a\\:b\\:c\\:d\\:e\n").is_err());
        // Errors never carry line contents.
        let e = Passfile::parse(b"secretpassword\n").unwrap_err();
        assert!(!e.to_string().contains("secretpassword"));
    }

    #[test]
    fn blank_lines_and_comments_are_accepted() {
        let original = "\n   \n#x\n  # y:z\n\t\r\n";
        let p = Passfile::parse(original.as_bytes()).unwrap();
        assert_eq!(p.line_count(), 5);
        assert_eq!(text(&p), original);
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let p = Passfile::parse(b"a:1:*:u:topsecret\n").unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
    }

    #[test]
    fn passwords_a_line_cannot_hold_are_refused() {
        // A newline or NUL would split the line or end libpq's reading of it.
        let mut p = Passfile::parse(b"a:1:*:u:p\n").unwrap();
        for bad in ["to\nken", "to\rken", "to\0ken"] {
            assert!(p.upsert(&key("*"), bad).is_err(), "{bad:?}");
        }
        assert_eq!(text(&p), "a:1:*:u:p\n", "the file is untouched");
    }

    #[test]
    fn hosts_starting_with_hash_are_entries_libpq_reads() {
        // Written as is, the line would start with '#': a comment to libpq.
        let k = EntryKey::new("#db", 5432, "*", "app").unwrap();
        let mut p = Passfile::empty();
        p.upsert(&k, "tok").unwrap();
        assert_eq!(text(&p), "\\#db:5432:*:app:tok\n");
        let again = Passfile::parse(&p.to_bytes()).unwrap();
        assert_eq!(
            again
                .lookup("#db", "5432", "x", "app")
                .as_deref()
                .map(|v| &v[..]),
            Some(&b"tok"[..])
        );
        assert_eq!(
            again.entry_password(&k).as_deref().map(|v| &v[..]),
            Some(&b"tok"[..])
        );
    }

    #[test]
    fn only_a_hash_in_the_first_byte_makes_a_comment() {
        // libpq reads " #h:1:d:u:pw" as an entry for host " #h".
        let p = Passfile::parse(b" #h:1:d:u:pw\n  # an indented remark\n#x:1:d:u:no\n").unwrap();
        assert_eq!(
            p.lookup(" #h", "1", "d", "u").as_deref().map(|v| &v[..]),
            Some(&b"pw"[..])
        );
        assert_eq!(p.lookup("#x", "1", "d", "u"), None);
    }
}
