//! Cancel keys: the client gets a BackendKeyData of the proxy's own (random process id and
//! secret), never the server's, so a client can cancel only through the proxy and only its own
//! sessions. A CancelRequest with a key the proxy handed out is forwarded with the server's key
//! on a new connection, TLS verified first as for a login (as libpq does with verify-full).

use super::wire;
use crate::failure::{Failure, FailureKind};
use crate::upstream::Upstream;
use bytes::BytesMut;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A server's key for one session, and the server.
#[derive(Clone)]
struct Entry {
    secret_key: i32,
    upstream: Arc<Upstream>,
    upstream_process_id: i32,
    upstream_secret_key: i32,
}

/// The cancel keys the proxy handed to its clients (by the process id it gave), and the
/// upstream keys they stand for.
#[derive(Default)]
pub struct CancelKeys {
    keys: Mutex<HashMap<i32, Entry>>,
}

impl std::fmt::Debug for CancelKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelKeys")
            .field("sessions", &self.len())
            .finish()
    }
}

impl CancelKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions hold a key now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Entry>> {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new key of the proxy's for a session whose server key is (`process_id`, `secret_key`)
    /// on `upstream`; the key is forgotten when the guard is dropped (the session ended).
    pub fn register(
        self: &Arc<Self>,
        upstream: Arc<Upstream>,
        process_id: i32,
        secret_key: i32,
    ) -> Result<KeyGuard, Failure> {
        let mut keys = self.lock();
        // A positive process id, as a server's; random, so ids say nothing about sessions.
        let (pid, secret) = loop {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| {
                Failure::new(
                    FailureKind::Unavailable,
                    format!("no randomness for a cancel key: {e}"),
                )
            })?;
            let pid = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & i32::MAX;
            let secret = i32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            if pid != 0 && !keys.contains_key(&pid) {
                break (pid, secret);
            }
        };
        keys.insert(
            pid,
            Entry {
                secret_key: secret,
                upstream,
                upstream_process_id: process_id,
                upstream_secret_key: secret_key,
            },
        );
        Ok(KeyGuard {
            keys: Arc::clone(self),
            process_id: pid,
            secret_key: secret,
        })
    }

    fn lookup(&self, process_id: i32, secret_key: i32) -> Option<Entry> {
        let keys = self.lock();
        let entry = keys.get(&process_id)?;
        bool::from(
            entry
                .secret_key
                .to_be_bytes()
                .ct_eq(&secret_key.to_be_bytes()),
        )
        .then(|| entry.clone())
    }
}

/// A session's key: handed to the client, removed when the session ends.
pub struct KeyGuard {
    keys: Arc<CancelKeys>,
    pub process_id: i32,
    pub secret_key: i32,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        self.keys.lock().remove(&self.process_id);
    }
}

/// Forwards a client's CancelRequest to the server of the session its key belongs to. A key
/// the proxy did not hand out is dropped (a server ignores unknown keys too); the client gets
/// no answer either way, as the protocol has none.
pub async fn forward(
    keys: &CancelKeys,
    process_id: i32,
    secret_key: i32,
    deadline: Instant,
) -> Result<(), Failure> {
    let entry = keys.lookup(process_id, secret_key).ok_or_else(|| {
        Failure::new(
            FailureKind::NotAllowed,
            "a CancelRequest with a key this proxy did not hand out (or whose session ended)",
        )
    })?;
    let timed_out = || {
        Failure::new(
            FailureKind::UpstreamUnreachable,
            "forwarding a CancelRequest timed out",
        )
    };
    tokio::time::timeout_at(deadline, async {
        let mut tls = super::login::open_tls(&entry.upstream).await?;
        let mut buf = BytesMut::new();
        postgres_protocol::message::frontend::cancel_request(
            entry.upstream_process_id,
            entry.upstream_secret_key,
            &mut buf,
        );
        let io = |e: std::io::Error| {
            Failure::new(
                FailureKind::UpstreamUnreachable,
                format!("forwarding a CancelRequest: {e}"),
            )
        };
        tls.write_all(&buf).await.map_err(io)?;
        tls.flush().await.map_err(io)?;
        // The server closes the connection once it has taken the request.
        let mut rest = [0u8; 64];
        let _ = tls.read(&mut rest).await;
        Ok::<_, Failure>(())
    })
    .await
    .map_err(|_| timed_out())?
}

/// The proxy's BackendKeyData for a session.
pub fn key_data(guard: &KeyGuard, buf: &mut BytesMut) {
    wire::backend_key_data(guard.process_id, guard.secret_key, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream() -> Arc<Upstream> {
        Arc::new(Upstream::new("127.0.0.1:1", "db.example.com", None).unwrap())
    }

    #[test]
    fn a_key_leads_to_its_server_key_while_the_session_lasts() {
        let keys = Arc::new(CancelKeys::default());
        let guard = keys.register(upstream(), 4242, -77).unwrap();
        let other = keys.register(upstream(), 4343, 88).unwrap();
        assert!(guard.process_id > 0);
        assert_ne!(guard.process_id, other.process_id);
        assert_eq!(keys.len(), 2);
        let entry = keys.lookup(guard.process_id, guard.secret_key).unwrap();
        assert_eq!(
            (entry.upstream_process_id, entry.upstream_secret_key),
            (4242, -77)
        );
        assert!(
            keys.lookup(guard.process_id, guard.secret_key.wrapping_add(1))
                .is_none()
        );
        assert!(
            keys.lookup(4242, -77).is_none(),
            "the server's key is not ours"
        );
        let (pid, secret) = (guard.process_id, guard.secret_key);
        drop(guard);
        assert!(keys.lookup(pid, secret).is_none());
        assert_eq!(keys.len(), 1);
    }
}
