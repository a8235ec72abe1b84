//! Bytes in, frames out: splits the read buffer into frames (checking each against the
//! negotiated frame size before it is buffered whole), pauses while output or a
//! queue's backlog drains, and turns handler errors into channel or connection closes.

use bytes::{Buf, BytesMut};

use super::Session;
use super::phase::Linger;
use crate::codec::frame::HEADER_LEN as FRAME_HEADER_LEN;
use crate::codec::{
    ClientMethod, FrameHead, FrameType, Peeked, ServerMethod, decode_method, peek_frame,
};
use crate::content::{COPY_BELOW, Payload};
use crate::error::{AmqpError, AmqpResult, Scope};

impl Session {
    pub(super) async fn process_input(&mut self, inbuf: &mut BytesMut) {
        self.phase.input_pending = false;
        loop {
            if self.phase.finished {
                return;
            }
            if self.out.is_full() || (self.gate.flow_paused() && !self.phase.is_closing()) {
                // Let the output (or a queue's backlog) drain before going on.
                self.phase.input_pending = !inbuf.is_empty();
                return;
            }
            match peek_frame(inbuf, self.frame_max) {
                Ok(Peeked::Frame(h)) => {
                    let total = h.total();
                    if h.kind == FrameType::Body
                        && h.size >= COPY_BELOW
                        && self.is_whole_body(h.channel, h.size)
                    {
                        // A large body in one frame: keep it without a copy.
                        let mut f = inbuf.split_to(total);
                        f.advance(FRAME_HEADER_LEN);
                        f.truncate(h.size);
                        self.on_frame(h, Payload::Shared(f.freeze())).await;
                    } else {
                        // Decoded in place; the read buffer stays unshared and is
                        // reused for the next read without a new allocation.
                        self.on_frame(h, Payload::Slice(h.payload(inbuf))).await;
                        inbuf.advance(total);
                    }
                }
                Ok(Peeked::NeedMore(n)) => {
                    if inbuf.capacity() < n {
                        inbuf.reserve(n - inbuf.len());
                    }
                    return;
                }
                Err(e) => {
                    // The stream is out of sync: nothing after this can be parsed, so
                    // report and end without waiting for close-ok.
                    tracing::debug!(conn = self.id.0, error = %e, "AMQP frame error");
                    self.close_connection(e.into());
                    self.phase.finish(Linger::Drain);
                    inbuf.clear();
                    return;
                }
            }
        }
    }

    fn is_whole_body(&self, ch: u16, size: usize) -> bool {
        self.channels
            .get(ch)
            .is_some_and(|c| c.assembler.is_whole_body(size))
    }

    async fn on_frame(&mut self, h: FrameHead, payload: Payload<'_>) {
        if let Err(e) = self.dispatch_frame(h, payload).await {
            self.on_error(h.channel, e).await;
        }
    }

    async fn on_error(&mut self, ch: u16, e: AmqpError) {
        if e.scope == Scope::Channel && ch != 0 {
            tracing::debug!(conn = self.id.0, ch, error = %e, "AMQP channel error");
            self.close_channel_with(ch, e).await;
        } else {
            tracing::debug!(conn = self.id.0, error = %e, "AMQP connection error");
            self.close_connection(e);
        }
    }

    async fn dispatch_frame(&mut self, h: FrameHead, payload: Payload<'_>) -> AmqpResult<()> {
        if self.phase.is_closing() {
            // Spec §2.2.4: after sending close, discard everything but close/close-ok.
            if h.kind == FrameType::Method && h.channel == 0 {
                match decode_method(payload.as_slice()) {
                    Ok(ClientMethod::ConnectionCloseOk) => self.phase.finish(Linger::None),
                    Ok(ClientMethod::ConnectionClose { .. }) => {
                        self.send(0, &ServerMethod::ConnectionCloseOk);
                        self.phase.finish(Linger::AwaitPeerClose);
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
        match h.kind {
            FrameType::Heartbeat => Ok(()),
            FrameType::Method => {
                let m = decode_method(payload.as_slice())?;
                if h.channel == 0 {
                    self.on_connection_method(m)
                } else {
                    self.on_channel_method(h.channel, m).await
                }
            }
            FrameType::Header | FrameType::Body => self.on_content_frame(h, payload).await,
        }
    }
}
