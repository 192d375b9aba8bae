//! Once both sides are logged in, bytes are copied both ways until either side closes, counting
//! them for the session's report.

use crate::session::SessionReport;
use tokio::io::{AsyncRead, AsyncWrite};

/// Copies between `client` and `upstream` until one side closes or fails.
pub async fn relay<C, U>(
    client: &mut C,
    upstream: &mut U,
    report: &mut SessionReport,
) -> std::io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin + ?Sized,
    U: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let (from_client, to_client) = tokio::io::copy_bidirectional(client, upstream).await?;
    report.bytes_from_client += from_client;
    report.bytes_to_client += to_client;
    Ok(())
}
