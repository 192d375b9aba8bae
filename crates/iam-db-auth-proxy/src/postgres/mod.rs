//! PostgreSQL: the client-facing leg (startup, SSLRequest, CancelRequest, optional local SCRAM),
//! the upstream login (SSLRequest, TLS, the client's startup parameters, the token as the
//! cleartext password), BackendKeyData of the proxy's own, then the relay.

use crate::failure::{Failure, FailureKind};
use crate::session::{ClientStream, SessionContext, SessionReport};

/// The cancel keys the proxy handed to its clients, and the upstream keys they stand for.
#[derive(Debug, Default)]
pub struct CancelKeys {}

/// Serves one PostgreSQL client (see `session` for the contract).
pub async fn serve(
    _client: ClientStream,
    _ctx: &SessionContext,
    _report: &mut SessionReport,
) -> Result<(), Failure> {
    Err(Failure::new(
        FailureKind::ClientProtocol,
        "PostgreSQL is not implemented yet",
    ))
}
