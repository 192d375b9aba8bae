//! Which names a server must prove before it gets a token. A token is valid for the host it is
//! signed for; with a signing host (`IAM_DB_AUTH_SIGNING_HOST`, `--signing-host`: tunnels,
//! port-forwards, aliases) every connection of the process would get a token for the real
//! endpoint, so the two are bound: the token goes to a server whose verified certificate is
//! valid for the signing host's name, or, when the user listed the connect host explicitly
//! (`IAM_DB_AUTH_CONNECT_HOSTS`), for the connect host's name.

/// The names `connect_host`'s certificate may be valid for, for a token signed for
/// `signing_host`: the signing host, and the connect host too when it differs and is in
/// `listed`. Host names compare without regard to case; IPv6 literals with or without brackets.
pub fn names_for<'a>(
    signing_host: &'a str,
    connect_host: &'a str,
    listed: &[String],
) -> Vec<&'a str> {
    let same = |a: &str, b: &str| unbracket(a).eq_ignore_ascii_case(unbracket(b));
    if same(signing_host, connect_host) {
        return vec![signing_host];
    }
    if listed.iter().any(|h| same(h, connect_host)) {
        return vec![signing_host, connect_host];
    }
    vec![signing_host]
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RDS: &str = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";

    #[test]
    fn without_a_signing_host_the_connect_host_is_the_name() {
        assert_eq!(names_for(RDS, RDS, &[]), [RDS]);
        assert_eq!(names_for("[::1]", "::1", &[]), ["[::1]"]);
        assert_eq!(
            names_for("DB.example.com", "db.EXAMPLE.com", &[]),
            ["DB.example.com"]
        );
    }

    #[test]
    fn a_signing_host_must_be_proved_unless_the_connect_host_is_listed() {
        assert_eq!(names_for(RDS, "127.0.0.1", &[]), [RDS]);
        assert_eq!(names_for(RDS, "127.0.0.1", &["10.0.0.1".into()]), [RDS]);
        assert_eq!(
            names_for(RDS, "127.0.0.1", &["127.0.0.1".into()]),
            [RDS, "127.0.0.1"]
        );
        assert_eq!(names_for(RDS, "::1", &["[::1]".into()]), [RDS, "::1"]);
        assert_eq!(
            names_for(RDS, "Proxy.Internal", &["proxy.internal".into()]),
            [RDS, "Proxy.Internal"]
        );
    }
}
