//! Publisher confirms (RabbitMQ extension): confirm.select, and the path from the
//! engine's per-message confirmations to batched `basic.ack`/`basic.nack`.
//!
//! Publishing never waits for a confirmation. Each confirm-mode channel has a small
//! waiter task that awaits its confirmations in publish order and reports them to the
//! connection; the connection reports a run of consecutive successes as one ack with
//! `multiple` set.

use bytes::BytesMut;
use tokio::sync::mpsc;
use trident_engine::Confirm;

use super::Session;
use crate::channel::{ChannelState, ConfirmState, Mode};
use crate::codec::{ServerMethod, put_method};
use crate::error::{AmqpError, AmqpResult};

/// Confirmations handled per loop turn (bounded so the socket gets its turn).
const CONFIRM_BATCH: usize = 4096;

/// One confirmation, as the waiter reports it.
#[derive(Debug)]
pub(crate) struct ConfirmDone {
    channel: u16,
    incarnation: u64,
    seq: u64,
    ok: bool,
}

fn spawn_waiter(
    channel: u16,
    incarnation: u64,
    mut rx: mpsc::UnboundedReceiver<(u64, Confirm)>,
    out: mpsc::UnboundedSender<ConfirmDone>,
) {
    tokio::spawn(async move {
        while let Some((seq, confirm)) = rx.recv().await {
            let ok = confirm.wait().await.is_ok();
            let done = ConfirmDone {
                channel,
                incarnation,
                seq,
                ok,
            };
            if out.send(done).is_err() {
                return;
            }
        }
    });
}

/// Reports the pending run of successes as one ack.
fn flush_acks(out: &mut BytesMut, ch: u16, s: &mut ConfirmState) {
    if s.pending_upto > s.acked_upto {
        put_method(
            out,
            ch,
            &ServerMethod::BasicAck {
                delivery_tag: s.pending_upto,
                multiple: s.pending_upto > s.acked_upto + 1,
            },
        );
        s.acked_upto = s.pending_upto;
    }
}

impl Session {
    pub(super) fn confirm_select(&mut self, ch: u16, nowait: bool) -> AmqpResult<()> {
        let done_tx = match &self.engine.confirms_tx {
            Some(tx) => tx.clone(),
            None => {
                let (tx, rx) = mpsc::unbounded_channel();
                self.engine.confirms_tx = Some(tx.clone());
                self.engine.confirms_rx = Some(rx);
                tx
            }
        };
        let c = self.open_channel(ch)?;
        match c.mode {
            Mode::Tx(_) => {
                return Err(AmqpError::precondition(
                    "cannot switch from tx to confirm mode",
                ));
            }
            Mode::Confirm(_) => {}
            Mode::Plain => {
                let (tx, rx) = mpsc::unbounded_channel();
                spawn_waiter(c.id, c.incarnation, rx, done_tx);
                c.mode = Mode::Confirm(ConfirmState {
                    next_seq: 1,
                    waiter: tx,
                    acked_upto: 0,
                    pending_upto: 0,
                });
            }
        }
        if !nowait {
            self.send(ch, &ServerMethod::ConfirmSelectOk);
        }
        Ok(())
    }

    pub(super) fn on_confirms(&mut self, first: ConfirmDone) {
        let mut touched: Vec<u16> = Vec::new();
        self.on_confirm(first, &mut touched);
        for _ in 1..CONFIRM_BATCH {
            let Some(rx) = self.engine.confirms_rx.as_mut() else {
                break;
            };
            match rx.try_recv() {
                Ok(d) => self.on_confirm(d, &mut touched),
                Err(_) => break,
            }
        }
        for ch in touched {
            if let Some(c) = self.channels.get_mut(ch)
                && let Mode::Confirm(s) = &mut c.mode
            {
                flush_acks(&mut self.out.buf, ch, s);
            }
        }
    }

    fn on_confirm(&mut self, d: ConfirmDone, touched: &mut Vec<u16>) {
        let Some(c) = self
            .channels
            .get_mut(d.channel)
            .filter(|c| c.incarnation == d.incarnation && c.state == ChannelState::Open)
        else {
            // The channel closed since: its publisher no longer expects an answer.
            return;
        };
        let Mode::Confirm(s) = &mut c.mode else {
            return;
        };
        if d.ok {
            s.pending_upto = d.seq;
            if !touched.contains(&d.channel) {
                touched.push(d.channel);
            }
        } else {
            // Earlier successes go out first so that the nack stays single.
            flush_acks(&mut self.out.buf, d.channel, s);
            put_method(
                &mut self.out.buf,
                d.channel,
                &ServerMethod::BasicNack {
                    delivery_tag: d.seq,
                    multiple: false,
                    requeue: false,
                },
            );
            s.acked_upto = d.seq;
            s.pending_upto = d.seq;
        }
    }
}
