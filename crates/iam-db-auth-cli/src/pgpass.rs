//! PostgreSQL password files (`~/.pgpass`, `PGPASSFILE`) exactly as libpq reads them, and the
//! edits the `pgpass` helper makes to them. Pure: bytes in, bytes out; no disk, no clock.
//!
//! How libpq reads a passfile (`passwordFromFile` in `src/interfaces/libpq/fe-connect.c`):
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
//! libpq releases before the fix of September 2020 read lines into a 320-byte buffer and cut
//! longer ones; see [`libpq_reads_long_lines`]. Every IAM token is longer than that.
//!
//! A passfile holds other people's secrets (other entries' passwords): buffers here are wiped
//! when dropped, and no error or `Debug` output shows a line's content.

use iam_db_auth::UtcSeconds;
use std::fmt;
use zeroize::Zeroizing;

/// The largest passfile the helper edits. Real ones are a few kilobytes; anything near this is
/// not a passfile (or not one to rewrite blindly).
pub const MAX_FILE_LEN: usize = 1 << 20;

/// The buffer size of libpq's passfile reader before long lines were supported
/// (`NAMEDATALEN * 5`): longer lines were cut there and their tail read as another line.
pub const LEGACY_LINE_BUFFER: usize = 320;

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

    fn fields(&self) -> [&Field; 4] {
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
                // A line starting with `#` is a comment to libpq: `\#` reads as a literal `#`
                // (review finding: an entry for a host starting with `#` was never read).
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

/// Escapes a field value as libpq reads it back: `\` before every `:` and `\`.
pub fn escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        if b == b':' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Undoes [`escape`] as libpq's password reader does: `\` takes the next byte literally; a
/// lone `\` at the end is kept.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b == b'\\' {
            if let Some(next) = bytes.next() {
                out.push(next);
                continue;
            }
        }
        out.push(b);
    }
    out
}

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
    /// (`Some(false)`) or for all of them (`Some(true)`).
    ///
    /// By the fields as parsed, and also by libpq's matcher run on the line's bytes, which
    /// differs when a value holds a `:` (fuzz finding: an unescaped `::1:5432:...` line
    /// written by hand wins for host `::1` in libpq, and was not reported, nor the entry put
    /// before it).
    fn shadows(&self, key: &EntryKey) -> Option<bool> {
        let Kind::Entry(k) = &self.kind else {
            return None;
        };
        let by_fields = k.overlaps(key).then(|| k.covers(key));
        let by_libpq = self.libpq_shadows(key);
        match (by_fields, by_libpq) {
            (None, None) => None,
            (a, b) => Some(a == Some(true) || b == Some(true)),
        }
    }

    /// [`Line::shadows`] by libpq's matcher. The key's host, port and user are values; a
    /// database of `*` means every database: the line takes all of them if its database field
    /// is `*`, some of them if any value ending before one of its unescaped `:` leads on to a
    /// match of the user.
    fn libpq_shadows(&self, key: &EntryKey) -> Option<bool> {
        let value = |f: &Field| match f {
            Field::Value(v) => Some(v.clone()),
            Field::Any => None,
        };
        let (host, port, user) = (value(&key.host)?, value(&key.port)?, value(&key.user)?);
        let mut text = &self.content[..];
        while let [head @ .., b'\r'] = text {
            text = head;
        }
        let rest = libpq_field_match(text, &host)?;
        let rest = libpq_field_match(rest, &port)?;
        match &key.dbname {
            Field::Value(db) => {
                let rest = libpq_field_match(rest, db)?;
                libpq_field_match(rest, &user).map(|_| true)
            }
            Field::Any => {
                if let Some(after) = rest.strip_prefix(b"*:") {
                    if libpq_field_match(after, &user).is_some() {
                        return Some(true);
                    }
                }
                // Every database value that ends where the line has an unescaped ':'.
                let mut i = 0;
                while i < rest.len() {
                    match rest[i] {
                        b'\\' => i += 2,
                        b':' => {
                            let db = unescape(&rest[..i]);
                            if libpq_field_match(rest, &db)
                                .and_then(|r| libpq_field_match(r, &user))
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
    /// only where the value does (fuzz finding: a value with a `:` such as the unbracketed IPv6
    /// host `::1` matched `::1:5432:...` in libpq but not here, which split fields first).
    pub fn lookup(
        &self,
        host: &str,
        port: &str,
        dbname: &str,
        user: &str,
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.lines.iter().find_map(|line| {
            if !matches!(line.kind, Kind::Entry(_)) {
                // Comments, blanks and indented `#` lines with too few fields to match.
                return None;
            }
            let mut text = &line.content[..];
            while let [head @ .., b'\r'] = text {
                text = head;
            }
            let rest = [host, port, dbname, user]
                .iter()
                .try_fold(text, |rest, value| {
                    libpq_field_match(rest, value.as_bytes())
                })?;
            let mut end = 0;
            while end < rest.len() && rest[end] != b':' {
                end += if rest[end] == b'\\' { 2 } else { 1 };
            }
            Some(Zeroizing::new(unescape(&rest[..end.min(rest.len())])))
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
    /// Refuses a password with a line break or a NUL, which no passfile line can hold (fuzz
    /// finding: it was written, and split the line or ended libpq's reading of it).
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
    // libpq strips every trailing CR/LF (pg_strip_crlf).
    let mut text = raw;
    while let [head @ .., b'\r'] = text {
        text = head;
    }
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
    // entry whose host starts with blanks and `#` (review finding: it was taken for a comment).
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

/// Splits a line into its first four fields (raw, still escaped) and the rest (the password
/// and anything after it). Fewer than four fields when the line has fewer unescaped colons.
fn split_fields(text: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut fields = Vec::with_capacity(4);
    let mut start = 0;
    let mut i = 0;
    while i < text.len() && fields.len() < 4 {
        match text[i] {
            b'\\' => i += 2,
            b':' => {
                fields.push(&text[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    let rest = if fields.len() == 4 {
        &text[start.min(text.len())..]
    } else {
        &[][..]
    };
    (fields, rest)
}

/// libpq's `pwdfMatchesString` (fe-connect.c): if the line, from `buf`, starts with a field
/// that matches `value`, the rest of the line after that field's `:`. `*:` matches anything;
/// otherwise the bytes are compared one by one (`\` makes the next byte literal), and the field
/// must end with an unescaped `:` exactly where `value` ends, so a `:` inside `value` matches a
/// `:` in the line, escaped or not.
fn libpq_field_match<'b>(buf: &'b [u8], value: &[u8]) -> Option<&'b [u8]> {
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

/// The password of an entry line, de-escaped, up to the next unescaped `:`.
fn password_of(raw: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut text = raw;
    while let [head @ .., b'\r'] = text {
        text = head;
    }
    let (_, rest) = split_fields(text);
    let mut end = 0;
    while end < rest.len() && rest[end] != b':' {
        end += if rest[end] == b'\\' { 2 } else { 1 };
    }
    Zeroizing::new(unescape(&rest[..end.min(rest.len())]))
}

/// When a token found in a passfile stops being valid: its `X-Amz-Date` plus `X-Amz-Expires`.
/// `None` when the password is not a token (or not one this can read).
pub fn token_expiry(password: &[u8]) -> Option<UtcSeconds> {
    let text = std::str::from_utf8(password).ok()?;
    let (_, query) = text.split_once('?')?;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let signed = UtcSeconds::parse_amz_date_time(param("X-Amz-Date")?)?;
    let expires: u64 = param("X-Amz-Expires")?.parse().ok()?;
    Some(signed.plus(expires))
}

/// Whether a libpq release reads passfile lines longer than [`LEGACY_LINE_BUFFER`] bytes,
/// given `PQlibVersion()` (e.g. `150018` for 15.18, `90624` for 9.6.24).
///
/// libpq commit 4178b7499 ("Teach libpq to handle arbitrary-length lines in .pgpass files",
/// September 2020) replaced the 320-byte line buffer with a growing one and was back-patched to
/// every branch then supported. It shipped in 13.0 and in the minor releases of 2020-11-12:
/// 12.5, 11.10, 10.15, 9.6.20 and 9.5.24. Earlier releases cut a token line at about 320 bytes
/// (so the token is wrong) and read the rest as another line; 9.4 and older were never fixed.
pub fn libpq_reads_long_lines(version: i32) -> bool {
    if version >= 100_000 {
        // 10 and later: major * 10000 + minor.
        let (major, minor) = (version / 10_000, version % 10_000);
        match major {
            10 => minor >= 15,
            11 => minor >= 10,
            12 => minor >= 5,
            _ => major >= 13,
        }
    } else {
        // 9.x: 90000 + major2 * 100 + minor.
        let (major2, minor) = ((version / 100) % 100, version % 100);
        match major2 {
            6 => minor >= 20,
            5 => minor >= 24,
            _ => false,
        }
    }
}

/// `PQlibVersion()` as text (`15.18`, `9.6.24`).
pub fn libpq_version_text(version: i32) -> String {
    if version >= 100_000 {
        format!("{}.{}", version / 10_000, version % 10_000)
    } else {
        format!(
            "{}.{}.{}",
            version / 10_000,
            (version / 100) % 100,
            version % 100
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "db.example.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";

    fn key(db: &str) -> EntryKey {
        EntryKey::new("db.example.com", 5432, db, "app").unwrap()
    }

    fn text(p: &Passfile) -> String {
        String::from_utf8(p.to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn escape_and_unescape_round_trip() {
        assert_eq!(escape(b"a:b\\c"), b"a\\:b\\\\c");
        assert_eq!(unescape(b"a\\:b\\\\c"), b"a:b\\c");
        assert_eq!(unescape(b"trailing\\"), b"trailing\\");
        assert_eq!(unescape(b"\\x"), b"x");
        for s in [&b""[..], b":", b"\\", b"\\:", b"::\\\\::", TOKEN.as_bytes()] {
            assert_eq!(unescape(&escape(s)), s);
        }
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
    fn escaped_fields_match_as_libpq_matches_them() {
        let p = Passfile::parse(b"h\\:x:5432:\\*:u:pw\\:1:extra\n").unwrap();
        // "\*" is a literal star, not a wildcard; the password ends at the unescaped colon.
        assert_eq!(&p.lookup("h:x", "5432", "*", "u").unwrap()[..], b"pw:1");
        assert!(p.lookup("h:x", "5432", "other", "u").is_none());
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
    fn token_expiry_is_read_from_the_token() {
        let at = token_expiry(TOKEN.as_bytes()).unwrap();
        assert_eq!(at.rfc3339(), "2024-08-26T22:15:00Z");
        assert_eq!(token_expiry(b"plainpassword"), None);
        assert_eq!(token_expiry(b"h:1/?X-Amz-Date=bad&X-Amz-Expires=900"), None);
        assert_eq!(token_expiry(&[0xff, b'?']), None);
    }

    #[test]
    fn libpq_versions_that_read_long_lines() {
        let table = [
            (180_001, true),
            (150_018, true),
            (140_000, true),
            (130_000, true),
            (120_005, true),
            (120_004, false),
            (110_010, true),
            (110_009, false),
            (100_015, true),
            (100_014, false),
            (90_620, true),
            (90_619, false),
            (90_524, true),
            (90_523, false),
            (90_426, false),
            (80_422, false),
        ];
        for (version, expected) in table {
            assert_eq!(libpq_reads_long_lines(version), expected, "{version}");
        }
        assert_eq!(libpq_version_text(150_018), "15.18");
        assert_eq!(libpq_version_text(90_624), "9.6.24");
    }

    #[test]
    fn passwords_a_line_cannot_hold_are_refused() {
        // Fuzz finding: a password with a newline or NUL was written and broke the file.
        let mut p = Passfile::parse(b"a:1:*:u:p\n").unwrap();
        for bad in ["to\nken", "to\rken", "to\0ken"] {
            assert!(p.upsert(&key("*"), bad).is_err(), "{bad:?}");
        }
        assert_eq!(text(&p), "a:1:*:u:p\n", "the file is untouched");
    }

    #[test]
    fn hosts_starting_with_hash_are_entries_libpq_reads() {
        // Review finding (writing the pgpass fuzz target's libpq oracle): an entry for a host
        // starting with '#' was written as a comment line.
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
        // Review finding (same): libpq reads " #h:1:d:u:pw" as an entry for host " #h"; we
        // skipped it as a comment.
        let p = Passfile::parse(b" #h:1:d:u:pw\n  # an indented remark\n#x:1:d:u:no\n").unwrap();
        assert_eq!(
            p.lookup(" #h", "1", "d", "u").as_deref().map(|v| &v[..]),
            Some(&b"pw"[..])
        );
        assert_eq!(p.lookup("#x", "1", "d", "u"), None);
    }

    #[test]
    fn lookup_matches_values_with_colons_as_libpq_does() {
        // Fuzz finding: libpq's matcher compares a value's ':' with the line's, so an
        // unbracketed IPv6 host line written by hand matches host ::1 there.
        let p = Passfile::parse(b"::1:5432:*:app:pw6\n\\:\\:2:5432:*:app:pw7\n").unwrap();
        let found = |host: &str| p.lookup(host, "5432", "db", "app").map(|v| v.to_vec());
        assert_eq!(found("::1"), Some(b"pw6".to_vec()));
        assert_eq!(found("::2"), Some(b"pw7".to_vec()));
        assert_eq!(found("1"), None);
    }

    #[test]
    fn an_earlier_line_libpq_matches_across_colons_is_reported_and_kept_behind() {
        // Fuzz finding: an unescaped, hand-written IPv6 line wins in libpq for host ::1, but
        // was neither reported nor placed behind the new entry.
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
