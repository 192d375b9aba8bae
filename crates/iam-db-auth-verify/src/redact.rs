//! What a rejection may say of the token: quoted text is short and escaped, and no part of a
//! session token the client sent survives in it. Rejections go to server logs.

use crate::parse::decode_percent_escapes;
use iam_db_auth::endpoint::shorten;
use zeroize::{Zeroize, Zeroizing};

/// The shortest run of a session token a rejection may not repeat, bytes.
pub(crate) const SESSION_TOKEN_RUN: usize = 8;

/// Text from a token, as a rejection quotes it: at most 80 bytes, escaped (a token is at most
/// 16 KB).
pub(crate) fn quote(text: &str) -> String {
    shorten(text).escape_debug().to_string()
}

/// `message` with every run of at least [`SESSION_TOKEN_RUN`] bytes that also occurs in a
/// session token the client sent replaced by `<redacted>`.
///
/// Rejections quote parts of a mangled token (80 bytes at most), and a mangled token can put
/// its session token anywhere: a lost '=' makes `X-Amz-Security-TokenIQoJb3...` a parameter
/// name, a lost '&' makes it part of the value before it, and a splice can put it inside
/// another parameter's name. Session tokens are credentials.
pub(crate) fn redact_session_token(token: &str, message: String) -> String {
    let query = token.split_once("/?").map_or(token, |(_, q)| q);
    // The value of every parameter that starts like the session token's, '=' or not, as
    // sent and %-decoded.
    let mut session_tokens: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for pair in query.split('&') {
        if let Some(rest) = pair.strip_prefix("X-Amz-Security-Token") {
            let raw = rest.strip_prefix('=').unwrap_or(rest).as_bytes();
            session_tokens.push(Zeroizing::new(raw.to_vec()));
            session_tokens.push(Zeroizing::new(decode_percent_escapes(raw).0));
        }
    }
    if session_tokens.is_empty() {
        return message;
    }
    // The message's 8-byte windows (a few hundred) sorted by value; each window of the
    // session tokens (up to 16 KB) is looked up there: linear in the token's length.
    let bytes = message.as_bytes();
    let window_value = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
    let mut windows: Vec<(u64, usize)> = bytes
        .windows(SESSION_TOKEN_RUN)
        .enumerate()
        .map(|(at, w)| (window_value(w), at))
        .collect();
    windows.sort_unstable();
    let mut secret = vec![false; bytes.len()];
    for run in session_tokens
        .iter()
        .flat_map(|t| t.windows(SESSION_TOKEN_RUN))
    {
        let value = window_value(run);
        let first = windows.partition_point(|&(v, _)| v < value);
        for &(_, at) in windows[first..].iter().take_while(|&&(v, _)| v == value) {
            secret[at..at + SESSION_TOKEN_RUN].fill(true);
        }
    }
    // The windows may hold fragments of a session token the message quoted.
    windows.iter_mut().for_each(|(value, _)| value.zeroize());
    if !secret.contains(&true) {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    let mut chars = message.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if !secret[at..at + c.len_utf8()].contains(&true) {
            out.push(c);
            continue;
        }
        while chars
            .peek()
            .is_some_and(|&(next, n)| secret[next..next + n.len_utf8()].contains(&true))
        {
            chars.next();
        }
        out.push_str("<redacted>");
    }
    let mut message = message;
    message.zeroize();
    out
}
