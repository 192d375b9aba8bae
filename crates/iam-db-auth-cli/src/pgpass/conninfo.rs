//! The `key=value` words of a target spec (`--target`, `--targets-file`), in the syntax of a
//! libpq connection string: words separated by blanks, blanks allowed around `=`, a value in
//! single quotes when it holds blanks, with `\'` and `\\` inside quotes.

/// Splits `a=b c='d e'` into pairs.
pub fn words(spec: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("expected '=' after '{key}'"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(format!("unterminated quote in {key}=")),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quote in {key}=")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        if key.is_empty() {
            return Err("a value without a key".into());
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(spec: &str) -> Vec<(String, String)> {
        words(spec).unwrap()
    }

    #[test]
    fn words_split_like_a_libpq_connection_string() {
        let own = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(pairs(""), []);
        assert_eq!(pairs("a=b c=d"), [own("a", "b"), own("c", "d")]);
        assert_eq!(
            pairs("  a = b\tc= 'd e' "),
            [own("a", "b"), own("c", "d e")]
        );
        assert_eq!(pairs("a='it\\'s \\\\ ok'"), [own("a", "it's \\ ok")]);
        assert_eq!(pairs("a=''"), [own("a", "")]);
        for (bad, why) in [
            ("a", "expected '=' after 'a'"),
            ("a b=c", "expected '=' after 'a'"),
            ("=x", "a value without a key"),
            ("a='x", "unterminated quote in a="),
            ("a='x\\", "unterminated quote in a="),
        ] {
            assert_eq!(words(bad).unwrap_err(), why, "{bad:?}");
        }
    }
}
