//! Heartbeats (spec §4.2.7): we send one when we have been silent for half the
//! negotiated interval, and declare the peer dead after two intervals without a byte.

use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::Session;
use crate::codec::frame::HEARTBEAT_FRAME;

/// Heartbeat half-periods without a byte from the peer before it is declared dead
/// (two full heartbeat intervals, as the spec and RabbitMQ have it).
const MAX_MISSED_TICKS: u8 = 4;

pub(super) struct Liveness {
    /// Negotiated interval in seconds; 0 is off.
    heartbeat: u16,
    pub read_activity: bool,
    pub write_activity: bool,
    missed_ticks: u8,
}

impl Liveness {
    pub fn new(heartbeat: u16) -> Self {
        Self {
            heartbeat,
            read_activity: false,
            write_activity: false,
            missed_ticks: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.heartbeat > 0
    }

    /// Ticks every half heartbeat interval (hourly, unused, when heartbeats are off).
    pub fn ticker(&self) -> Interval {
        let period = if self.enabled() {
            Duration::from_millis(u64::from(self.heartbeat) * 500)
        } else {
            Duration::from_secs(3600)
        };
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker
    }
}

impl Session {
    /// Heartbeat half-period: send one if we were silent, count the peer's silence.
    /// Returns false once the peer counts as dead.
    pub(super) fn on_tick(&mut self) -> bool {
        if !self.liveness.write_activity && self.out.is_empty() {
            self.out.buf.extend_from_slice(&HEARTBEAT_FRAME);
        }
        self.liveness.write_activity = false;
        // While we deliberately do not read (alarm, output backlog) the peer's
        // heartbeats sit unread in the socket; that is not its fault.
        if self.liveness.read_activity || !self.may_read() {
            self.liveness.missed_ticks = 0;
        } else {
            self.liveness.missed_ticks = self.liveness.missed_ticks.saturating_add(1);
        }
        self.liveness.read_activity = false;
        self.liveness.missed_ticks < MAX_MISSED_TICKS
    }
}
