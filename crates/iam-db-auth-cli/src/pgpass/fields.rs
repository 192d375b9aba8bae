//! A passfile line's fields as libpq reads them: `\` makes the next byte literal, an
//! unescaped `:` ends a field, and the password runs to the next unescaped `:` or the end.

use zeroize::Zeroizing;

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
        if b == b'\\'
            && let Some(next) = bytes.next()
        {
            out.push(next);
            continue;
        }
        out.push(b);
    }
    out
}

/// `text` without the trailing `\r`s libpq strips (`pg_strip_crlf`).
pub(crate) fn without_cr(mut text: &[u8]) -> &[u8] {
    while let [head @ .., b'\r'] = text {
        text = head;
    }
    text
}

/// Splits a line into its first four fields (raw, still escaped) and the rest (the password
/// and anything after it). Fewer than four fields when the line has fewer unescaped colons.
pub(crate) fn split_fields(text: &[u8]) -> (Vec<&[u8]>, &[u8]) {
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

/// The value of the field that starts `rest` (the password, after four fields), de-escaped, up
/// to the next unescaped `:` or the end.
pub(crate) fn first_field(rest: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut end = 0;
    while end < rest.len() && rest[end] != b':' {
        end += if rest[end] == b'\\' { 2 } else { 1 };
    }
    Zeroizing::new(unescape(&rest[..end.min(rest.len())]))
}

/// The password of an entry line, de-escaped, up to the next unescaped `:`.
pub(crate) fn password_of(raw: &[u8]) -> Zeroizing<Vec<u8>> {
    let (_, rest) = split_fields(without_cr(raw));
    first_field(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgpass::TEST_TOKEN;

    #[test]
    fn escape_and_unescape_round_trip() {
        assert_eq!(escape(b"a:b\\c"), b"a\\:b\\\\c");
        assert_eq!(unescape(b"a\\:b\\\\c"), b"a:b\\c");
        assert_eq!(unescape(b"trailing\\"), b"trailing\\");
        assert_eq!(unescape(b"\\x"), b"x");
        for s in [
            &b""[..],
            b":",
            b"\\",
            b"\\:",
            b"::\\\\::",
            TEST_TOKEN.as_bytes(),
        ] {
            assert_eq!(unescape(&escape(s)), s);
        }
    }
}
