//! Once both sides are logged in, bytes are copied both ways until either side closes, counting
//! them for the session's report. A session with no bytes either way for longer than the idle
//! bound is closed (`--idle-timeout`).
//!
//! One task polls both directions (as `tokio::io::copy_bidirectional` does): no second task,
//! no lock per read, and the idle timer is one `Sleep` moved forward when bytes flow.

use crate::session::SessionReport;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Buffer per direction, as tokio's own copy: a TLS record's worth of a result set per read is
/// enough for throughput, and 2 x 8 KiB keeps an idle session well inside its memory budget
/// (64 KiB, TLS state included; issue 15).
const BUFFER: usize = 8 * 1024;

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEnd {
    /// One side closed and the other side's remaining bytes were delivered.
    Closed,
    /// No bytes either way for the idle bound.
    Idle,
}

/// Copies between `client` and `upstream` until both directions are closed, either side
/// fails, or (with `idle_timeout`) no byte moved either way for that long. The byte counts in
/// `report` are updated whatever the outcome.
pub async fn relay<C, U>(
    client: &mut C,
    upstream: &mut U,
    report: &mut SessionReport,
    idle_timeout: Option<Duration>,
) -> io::Result<RelayEnd>
where
    C: AsyncRead + AsyncWrite + Unpin + ?Sized,
    U: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut up = Direction::new(); // client -> upstream
    let mut down = Direction::new(); // upstream -> client
    let mut idle = idle_timeout.map(|d| (d, Box::pin(tokio::time::sleep(d))));
    let result = poll_fn(|cx| {
        let before = up.moved + down.moved;
        let up_state = up.poll(cx, &mut *client, &mut *upstream);
        let down_state = down.poll(cx, &mut *upstream, &mut *client);
        let moved = up.moved + down.moved != before;
        if let Poll::Ready(Err(e)) = up_state {
            return Poll::Ready(Err(e));
        }
        if let Poll::Ready(Err(e)) = down_state {
            return Poll::Ready(Err(e));
        }
        if up_state.is_ready() && down_state.is_ready() {
            return Poll::Ready(Ok(RelayEnd::Closed));
        }
        if let Some((bound, sleep)) = idle.as_mut() {
            if moved {
                sleep.as_mut().reset(Instant::now() + *bound);
            }
            if poll_sleep(sleep.as_mut(), cx).is_ready() {
                return Poll::Ready(Ok(RelayEnd::Idle));
            }
        }
        Poll::Pending
    })
    .await;
    report.bytes_from_client += up.moved;
    report.bytes_to_client += down.moved;
    result
}

fn poll_sleep(sleep: Pin<&mut Sleep>, cx: &mut Context<'_>) -> Poll<()> {
    std::future::Future::poll(sleep, cx)
}

/// One direction's copy: read into the buffer, write it all out, repeat; on end of input,
/// shut the writer down (a half close, which the protocols' clients use at their end).
struct Direction {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    read_done: bool,
    shut_down: bool,
    moved: u64,
}

impl Direction {
    fn new() -> Self {
        Direction {
            buf: vec![0u8; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            read_done: false,
            shut_down: false,
            moved: 0,
        }
    }

    /// Ready(Ok) once the input ended and the output was shut down.
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            if self.shut_down {
                return Poll::Ready(Ok(()));
            }
            // Write out what the buffer holds.
            while self.start < self.end {
                let n =
                    ready!(Pin::new(&mut *writer).poll_write(cx, &self.buf[self.start..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the peer accepts no more bytes",
                    )));
                }
                self.start += n;
                self.moved += n as u64;
            }
            if self.read_done {
                ready!(Pin::new(&mut *writer).poll_shutdown(cx))?;
                self.shut_down = true;
                continue;
            }
            self.start = 0;
            self.end = 0;
            let mut read = ReadBuf::new(&mut self.buf);
            match Pin::new(&mut *reader).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        self.read_done = true;
                    }
                    self.end = n;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Nothing more to read now: push out what was written (TLS buffers).
                    ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn copies_both_ways_and_counts() {
        let (mut client, mut client_far) = duplex(64);
        let (mut upstream, mut upstream_far) = duplex(64);
        let task = tokio::spawn(async move {
            let mut report = SessionReport::default();
            let end = relay(&mut client_far, &mut upstream_far, &mut report, None).await;
            (end.unwrap(), report)
        });
        client.write_all(b"hello upstream").await.unwrap();
        let mut got = [0u8; 14];
        upstream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello upstream");
        upstream.write_all(b"hi").await.unwrap();
        let mut got = [0u8; 2];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
        drop(client);
        drop(upstream);
        let (end, report) = task.await.unwrap();
        assert_eq!(end, RelayEnd::Closed);
        assert_eq!(report.bytes_from_client, 14);
        assert_eq!(report.bytes_to_client, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_session_ends_after_the_bound_and_traffic_moves_it() {
        let (mut client, mut client_far) = duplex(64);
        let (_upstream, mut upstream_far) = duplex(64);
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut report = SessionReport::default();
            relay(
                &mut client_far,
                &mut upstream_far,
                &mut report,
                Some(Duration::from_secs(10)),
            )
            .await
            .unwrap()
        });
        tokio::time::sleep(Duration::from_secs(6)).await;
        client.write_all(b"x").await.unwrap();
        let end = task.await.unwrap();
        assert_eq!(end, RelayEnd::Idle);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(16) && waited < Duration::from_secs(17),
            "{waited:?}"
        );
    }
}
