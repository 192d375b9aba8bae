//! MySQL/MariaDB: the server's greeting read upstream, the client greeted with the same version
//! and capabilities, TLS upstream, the client's login answered with the token for
//! `mysql_clear_password` (also after an AuthSwitchRequest), COM_CHANGE_USER, then the relay.

use crate::failure::{Failure, FailureKind};
use crate::session::{ClientStream, SessionContext, SessionReport};

/// Serves one MySQL client (see `session` for the contract).
pub async fn serve(
    _client: ClientStream,
    _ctx: &SessionContext,
    _report: &mut SessionReport,
) -> Result<(), Failure> {
    Err(Failure::new(
        FailureKind::ClientProtocol,
        "MySQL is not implemented yet",
    ))
}
