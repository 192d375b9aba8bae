//! Text that holds a secret (a token, a secret key, a session token), and nothing else.
//!
//! `Zeroizing<String>` wipes a string's final buffer on drop, but not the buffers it outgrew:
//! every reallocation while the text is built leaves a copy behind in freed memory. A
//! [`SecretString`](crate::secret::SecretString) never grows in place: when it needs room it copies itself into a larger
//! buffer and wipes the old one. Its `Debug` shows only the length.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// A string for secrets: wiped on drop and whenever it moves to a larger buffer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// An empty string with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        SecretString(Zeroizing::new(String::with_capacity(capacity)))
    }

    /// Appends `text`.
    pub fn push_str(&mut self, text: &str) {
        self.reserve(text.len());
        self.0.push_str(text);
    }

    /// Appends one character.
    pub fn push(&mut self, c: char) {
        self.reserve(c.len_utf8());
        self.0.push(c);
    }

    /// Makes room for `extra` more bytes, moving to a larger buffer (and wiping this one) if
    /// needed. Writes of at most `extra` bytes then never reallocate.
    pub fn reserve(&mut self, extra: usize) {
        let needed = self.0.len().saturating_add(extra);
        if needed <= self.0.capacity() {
            return;
        }
        let mut bigger = String::with_capacity(needed.max(self.0.capacity().saturating_mul(2)));
        bigger.push_str(&self.0);
        // The old buffer is wiped when its Zeroizing wrapper drops here.
        self.0 = Zeroizing::new(bigger);
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The capacity of the current buffer (for tests that check nothing was reallocated).
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Wipes the text now (the buffer is kept).
    pub fn clear(&mut self) {
        self.0.zeroize();
    }
}

impl std::ops::Deref for SecretString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SecretString {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<[u8]> for SecretString {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<String> for SecretString {
    /// Takes ownership of `text`'s buffer (no copy).
    fn from(text: String) -> Self {
        SecretString(Zeroizing::new(text))
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        let mut s = SecretString::with_capacity(text.len());
        s.push_str(text);
        s
    }
}

impl fmt::Write for SecretString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString(** redacted **, {} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn grows_by_moving_to_a_larger_buffer_and_keeps_the_text() {
        let mut s = SecretString::with_capacity(4);
        s.push_str("abcd");
        assert_eq!(s.capacity(), 4);
        s.push_str("efgh");
        assert!(s.capacity() >= 8);
        s.push('é');
        write!(s, "-{}", 42).unwrap();
        assert_eq!(s.as_str(), "abcdefghé-42");
        let reserved = s.capacity();
        s.reserve(0);
        assert_eq!(s.capacity(), reserved, "no move when there is room");
        s.push_str("xyz");
        assert_eq!(s.as_str(), "abcdefghé-42xyz");
    }

    #[test]
    fn debug_shows_the_length_only_and_clear_wipes() {
        let mut s = SecretString::from("hunter2");
        assert_eq!(format!("{s:?}"), "SecretString(** redacted **, 7 bytes)");
        s.clear();
        assert_eq!(s.as_str(), "");
        assert_eq!(SecretString::from(String::from("x")).as_str(), "x");
    }
}
