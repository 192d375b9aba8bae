//! Web identity from the environment (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, as EKS
//! sets them): the token file is read locally, the role assumed through STS.
//!
//! aws-config reads the token file with a blocking `std::fs::read` inside the future the
//! lookup's time bound wraps (a FIFO there would block for ever, `/dev/zero` fill memory), and
//! it takes the file only by path. So the file is checked first with our bounded reader
//! (regular file, at most [`MAX_TOKEN_BYTES`]) and only a file that passes is handed on.

use super::Source;
use crate::credentials::redact::error_chain;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

/// The largest web identity token file read, bytes (EKS tokens are 1-2 KiB).
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// The web identity source. Not backed off: without the variables it answers at once, and the
/// STS call it makes otherwise is bounded by the lookup timeout.
pub(crate) fn build(config: &ProviderConfig) -> Source {
    let provider = WebIdentityTokenCredentialsProvider::builder()
        .configure(config)
        .build();
    Source::new(
        "web identity".into(),
        SharedCredentialsProvider::new(CheckedTokenFile(provider)),
    )
}

/// aws-config's provider, asked only when the token file is one it can read without waiting.
#[derive(Debug)]
struct CheckedTokenFile(WebIdentityTokenCredentialsProvider);

impl ProvideCredentials for CheckedTokenFile {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        match token_file_problem(
            std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE"),
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ) {
            Some(problem) => future::ProvideCredentials::ready(Err(
                CredentialsError::invalid_configuration(problem),
            )),
            None => self.0.provide_credentials(),
        }
    }
}

/// Why the token file at `path` (named by `setting`) cannot be used, if it cannot; `None` when
/// it is unset (aws-config then says so) or a readable regular file within the limit. Its
/// content is wiped at once. The profile source asks it for `web_identity_token_file` too.
pub(crate) fn token_file_problem(
    path: Option<std::ffi::OsString>,
    setting: &str,
) -> Option<String> {
    let path = std::path::PathBuf::from(path.filter(|p| !p.is_empty())?);
    match crate::files::read_regular(&path, MAX_TOKEN_BYTES) {
        Ok(mut token) => {
            zeroize::Zeroize::zeroize(&mut token);
            None
        }
        Err(e) => Some(error_chain(&std::io::Error::other(format!(
            "{} ({setting}) {e}",
            path.display()
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_token_file_within_the_limit_is_handed_on() {
        let dir = std::env::temp_dir().join(format!("iam-db-auth-wit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln").unwrap();
        assert_eq!(token_file_problem(Some(token.clone().into()), "T"), None);
        assert_eq!(token_file_problem(None, "T"), None);
        assert_eq!(token_file_problem(Some("".into()), "T"), None);
        std::fs::write(&token, vec![b'x'; MAX_TOKEN_BYTES as usize + 1]).unwrap();
        let big = token_file_problem(Some(token.clone().into()), "T").expect("too large");
        assert!(big.contains("larger than 65536 bytes"), "{big}");
        let dev = token_file_problem(Some("/dev/zero".into()), "T").expect("a device");
        assert!(dev.contains("not a regular file"), "{dev}");
        let missing = token_file_problem(Some(dir.join("none").into()), "T").expect("missing");
        assert!(missing.contains("not found"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
