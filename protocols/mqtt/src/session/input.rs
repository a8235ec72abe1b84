//! Bytes in, packets out: takes packets off the read buffer (the codec refuses an
//! oversized one from its fixed header, before buffering it) and hands each to
//! `dispatch`; a decode error ends the connection with the spec's reason code.

use bytes::BytesMut;

use super::{End, Session};
use crate::error::MqttError;
use crate::stats::MqttStats;

impl Session {
    pub(super) async fn process_input(&mut self, inbuf: &mut BytesMut) {
        self.input_pending = false;
        loop {
            if self.finished() {
                return;
            }
            if self.out.is_full() || self.inbound_full_now() {
                // The rest waits in the buffer; the loop comes back once the output
                // (or the confirmations) drained.
                self.input_pending = !inbuf.is_empty();
                return;
            }
            match self.decoder.decode(inbuf) {
                Ok(Some(packet)) => {
                    if let Err(e) = self.dispatch(packet).await {
                        self.fail(e);
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(client = %self.client_id, error = %e, "MQTT decode error");
                    inbuf.clear();
                    self.fail(MqttError::from(e));
                    return;
                }
            }
        }
    }

    fn inbound_full_now(&self) -> bool {
        self.inbound.awaiting >= usize::from(self.shared.config.receive_maximum.max(1))
    }

    /// Ends the connection for a protocol error: v5 clients are told why in a
    /// DISCONNECT ([MQTT-4.13.1-1]); 3.x clients are simply closed.
    pub(crate) fn fail(&mut self, e: MqttError) {
        tracing::debug!(client = %self.client_id, error = %e, "MQTT connection error");
        self.finish(End::Error(e));
    }

    pub(crate) fn count_received(&self) {
        MqttStats::add(&self.shared.stats.messages_received, 1);
    }
}
