//! One error type for every door. Each error has a numbered code (stable across releases,
//! never reused; the C ABI returns it) and a complete message that says what was wrong and
//! what to do. Messages never contain a token, a secret key or a session token.

use std::ffi::CStr;
use std::fmt;

/// Error codes, as the C ABI reports them. Numbers are part of the ABI: new codes get new
/// numbers, old ones are never reused or renumbered.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No error.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// The host is empty, too long, or not a bare host name.
    InvalidHost = 3,
    /// The port is 0 where a port is required.
    InvalidPort = 4,
    /// The user name is empty or contains a NUL or control character.
    InvalidUser = 5,
    /// The region is not a region name.
    InvalidRegion = 6,
    /// No region was given, none could be inferred from the endpoint, and none is configured.
    RegionNotFound = 7,
    /// The options structure is malformed (size, version, unknown kind or flags).
    InvalidOptions = 8,
    /// The profile name is not usable.
    InvalidProfile = 9,
    /// The requested token lifetime is outside what the service accepts.
    InvalidExpiry = 10,
    /// The signing time is not usable (before 1970 or unparseable).
    InvalidSigningTime = 11,
    /// No credential source provided AWS credentials.
    NoCredentials = 20,
    /// The credentials found have already expired.
    CredentialsExpired = 21,
    /// Looking for credentials took longer than the configured bound.
    CredentialsTimeout = 22,
    /// A credential source is configured but failed (bad configuration, service error).
    CredentialsFailed = 23,
    /// The connection is not encrypted and sending a token over it was refused.
    InsecureConnection = 30,
    /// The server's TLS certificate did not prove it is the endpoint the token is for (no
    /// trusted chain, or not valid for the name); no token was sent.
    UntrustedServer = 31,
    /// The CA certificates to verify servers with could not be read (a configured file is
    /// missing, unreadable or holds no certificate).
    CaUnavailable = 32,
    /// A bug: a panic was caught at the boundary, or an invariant did not hold.
    Internal = 99,
}

impl ErrorCode {
    /// A static, NUL-terminated description of the code (not of the particular failure).
    pub fn description(self) -> &'static CStr {
        match self {
            ErrorCode::Ok => c"no error",
            ErrorCode::NullArgument => c"a required argument was NULL",
            ErrorCode::InvalidUtf8 => c"a string argument was not valid UTF-8",
            ErrorCode::InvalidHost => c"the host is not a valid host name",
            ErrorCode::InvalidPort => c"the port is not valid",
            ErrorCode::InvalidUser => c"the user name is not valid",
            ErrorCode::InvalidRegion => c"the region is not a region name",
            ErrorCode::RegionNotFound => c"no AWS region given, inferable or configured",
            ErrorCode::InvalidOptions => c"the options structure is not valid",
            ErrorCode::InvalidProfile => c"the profile name is not valid",
            ErrorCode::InvalidExpiry => c"the token lifetime is not accepted by the service",
            ErrorCode::InvalidSigningTime => c"the signing time is not valid",
            ErrorCode::NoCredentials => c"no AWS credentials found",
            ErrorCode::CredentialsExpired => c"the AWS credentials have expired",
            ErrorCode::CredentialsTimeout => c"timed out looking for AWS credentials",
            ErrorCode::CredentialsFailed => c"an AWS credential source failed",
            ErrorCode::InsecureConnection => {
                c"refused to send a token over an unencrypted connection"
            }
            ErrorCode::UntrustedServer => {
                c"the server's certificate did not verify; no token was sent"
            }
            ErrorCode::CaUnavailable => c"the CA certificates could not be read",
            ErrorCode::Internal => c"internal error (a bug in iam-db-auth)",
        }
    }

    /// Whether a failure with this code may go away by itself, so that trying again later can
    /// help: the credential lookups (20-29) fail for passing reasons (an SSO session to renew, a
    /// metadata endpoint that did not answer, a role being rotated). Every other code is about
    /// the request, the connection or a bug, and fails again the same way until someone acts.
    ///
    /// Every code is named here: a new code has to be sorted into one side or the other.
    pub fn is_transient(self) -> bool {
        match self {
            ErrorCode::NoCredentials
            | ErrorCode::CredentialsExpired
            | ErrorCode::CredentialsTimeout
            | ErrorCode::CredentialsFailed => true,
            ErrorCode::Ok
            | ErrorCode::NullArgument
            | ErrorCode::InvalidUtf8
            | ErrorCode::InvalidHost
            | ErrorCode::InvalidPort
            | ErrorCode::InvalidUser
            | ErrorCode::InvalidRegion
            | ErrorCode::RegionNotFound
            | ErrorCode::InvalidOptions
            | ErrorCode::InvalidProfile
            | ErrorCode::InvalidExpiry
            | ErrorCode::InvalidSigningTime
            | ErrorCode::InsecureConnection
            | ErrorCode::UntrustedServer
            | ErrorCode::CaUnavailable
            | ErrorCode::Internal => false,
        }
    }

    /// The code for a C integer, if it is one.
    pub fn from_i32(value: i32) -> Option<ErrorCode> {
        ALL_CODES.into_iter().find(|c| *c as i32 == value)
    }
}

/// Every code, for lookups and tests.
///
/// cbindgen:ignore
pub const ALL_CODES: [ErrorCode; 20] = [
    ErrorCode::Ok,
    ErrorCode::NullArgument,
    ErrorCode::InvalidUtf8,
    ErrorCode::InvalidHost,
    ErrorCode::InvalidPort,
    ErrorCode::InvalidUser,
    ErrorCode::InvalidRegion,
    ErrorCode::RegionNotFound,
    ErrorCode::InvalidOptions,
    ErrorCode::InvalidProfile,
    ErrorCode::InvalidExpiry,
    ErrorCode::InvalidSigningTime,
    ErrorCode::NoCredentials,
    ErrorCode::CredentialsExpired,
    ErrorCode::CredentialsTimeout,
    ErrorCode::CredentialsFailed,
    ErrorCode::InsecureConnection,
    ErrorCode::UntrustedServer,
    ErrorCode::CaUnavailable,
    ErrorCode::Internal,
];

/// A failure: its code and a complete message for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    /// An error with a code and a message. The message must not contain secrets.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// The numbered code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The complete message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ALL_CODES {
            assert!(seen.insert(code as i32), "duplicate number for {code:?}");
            assert_eq!(ErrorCode::from_i32(code as i32), Some(code));
            assert!(!code.description().to_bytes().is_empty());
        }
        assert_eq!(ErrorCode::from_i32(12345), None);
    }

    #[test]
    fn code_numbers_are_the_published_ones() {
        // These numbers are in the C header and in users' code: changing one is an ABI break.
        assert_eq!(ErrorCode::Ok as i32, 0);
        assert_eq!(ErrorCode::NullArgument as i32, 1);
        assert_eq!(ErrorCode::RegionNotFound as i32, 7);
        assert_eq!(ErrorCode::NoCredentials as i32, 20);
        assert_eq!(ErrorCode::InsecureConnection as i32, 30);
        assert_eq!(ErrorCode::UntrustedServer as i32, 31);
        assert_eq!(ErrorCode::CaUnavailable as i32, 32);
        assert_eq!(ErrorCode::Internal as i32, 99);
    }

    #[test]
    fn only_credential_failures_are_transient() {
        let table = [
            (ErrorCode::Ok, false),
            (ErrorCode::NullArgument, false),
            (ErrorCode::InvalidUtf8, false),
            (ErrorCode::InvalidHost, false),
            (ErrorCode::InvalidPort, false),
            (ErrorCode::InvalidUser, false),
            (ErrorCode::InvalidRegion, false),
            (ErrorCode::RegionNotFound, false),
            (ErrorCode::InvalidOptions, false),
            (ErrorCode::InvalidProfile, false),
            (ErrorCode::InvalidExpiry, false),
            (ErrorCode::InvalidSigningTime, false),
            (ErrorCode::NoCredentials, true),
            (ErrorCode::CredentialsExpired, true),
            (ErrorCode::CredentialsTimeout, true),
            (ErrorCode::CredentialsFailed, true),
            (ErrorCode::InsecureConnection, false),
            (ErrorCode::UntrustedServer, false),
            (ErrorCode::CaUnavailable, false),
            (ErrorCode::Internal, false),
        ];
        assert_eq!(
            table.map(|(code, _)| code),
            ALL_CODES,
            "every code has a row"
        );
        for (code, transient) in table {
            assert_eq!(code.is_transient(), transient, "{code:?}");
        }
    }
}
