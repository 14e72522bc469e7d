//! Body wrappers: a request body with a deadline for all of it, and a response body that
//! keeps its connection busy until it has been sent.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use hookdesk_server::http::layers::BodyDeadline;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::connections::BusyGuard;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that fails once `deadline` passes before it all arrived. The deadline is
/// for the whole body, unlike a timeout between frames, which a client sending a byte at a
/// time never meets.
pub struct TimedBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    expired: BodyDeadline,
}

impl TimedBody {
    pub fn new(inner: Incoming, deadline: Instant, expired: BodyDeadline) -> Self {
        Self { inner, deadline, sleep: None, expired }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        // The timer is made only for bodies that keep us waiting.
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.expired.expire();
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body holding its connection's [`BusyGuard`]: the connection is idle again
/// once the body is done and dropped.
pub struct GuardedBody {
    inner: axum::body::Body,
    _busy: BusyGuard,
}

impl GuardedBody {
    pub fn new(inner: axum::body::Body, busy: BusyGuard) -> Self {
        Self { inner, _busy: busy }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
