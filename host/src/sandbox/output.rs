//! A rule's stdout and stderr: kept up to a bound per call, then written to the log with the
//! rule and tenant, the rest counted and dropped. A rule can neither flood the host's output
//! nor make its own writes fail.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// What one stream captured since it was last drained.
#[derive(Debug, Default)]
pub struct Captured {
    pub kept: Vec<u8>,
    pub dropped: u64,
}

/// One output stream of a rule instance; clones share the same buffer.
#[derive(Clone)]
pub struct BoundedOutput {
    captured: Arc<Mutex<Captured>>,
    limit: usize,
}

impl BoundedOutput {
    pub fn new(limit: u64) -> Self {
        BoundedOutput {
            captured: Arc::default(),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        }
    }

    /// What was written since the last call.
    pub fn drain(&self) -> Captured {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Captured> {
        // A panic while holding the lock leaves plain bytes behind; they are still usable.
        self.captured
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn keep(&self, bytes: &[u8]) {
        let mut captured = self.lock();
        let room = self.limit.saturating_sub(captured.kept.len());
        let kept = bytes.len().min(room);
        captured.kept.extend_from_slice(&bytes[..kept]);
        captured.dropped += (bytes.len() - kept) as u64;
    }
}

/// What a guest may write in one go: the usual WASI stream permit.
const PERMIT: usize = 64 * 1024;

#[async_trait::async_trait]
impl OutputStream for BoundedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for BoundedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for BoundedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_the_limit_and_counts_the_rest() {
        let mut output = BoundedOutput::new(10);
        output.write(Bytes::from_static(b"0123456")).unwrap();
        output.write(Bytes::from_static(b"789abcdef")).unwrap();
        let captured = output.drain();
        assert_eq!(captured.kept, b"0123456789");
        assert_eq!(captured.dropped, 6);
        let again = output.drain();
        assert!(again.kept.is_empty());
        assert_eq!(again.dropped, 0);
    }
}
