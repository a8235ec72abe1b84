//! Prefetch as credit. The engine pushes a consumer at most as many deliveries as it
//! has been granted; this module decides how much to grant so that AMQP's limits hold:
//! `basic.qos` per consumer (`global=false`, RabbitMQ's reading) and per channel
//! (`global=true`, shared by all the channel's consumers). Sans-io: it only counts.

/// Credit the engine treats as "no limit".
pub const UNLIMITED: u32 = u32::MAX;

/// One consumer's side of the bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct ConsumerCredit {
    /// Per-consumer prefetch fixed when the consumer started (0 = none).
    limit: u32,
    /// Deliveries outstanding (not settled).
    held: u32,
    /// Credit granted to the engine and not yet used by a delivery.
    granted: u32,
    /// Neither limit applied when the consumer started: it was granted `UNLIMITED` once
    /// and is never counted again.
    unlimited: bool,
}

/// A channel's shared limit (`basic.qos` with `global=true`).
#[derive(Debug, Clone, Default)]
pub struct ChannelCredit {
    /// 0 = none.
    pub limit: u32,
    /// Sum of `held` over the channel's limited consumers.
    held: u32,
    /// Sum of `granted` over the channel's limited consumers.
    granted: u32,
    /// How many limited consumers share the channel limit.
    consumers: u32,
}

impl ChannelCredit {
    fn room(&self) -> u32 {
        if self.limit == 0 {
            UNLIMITED
        } else {
            self.limit
                .saturating_sub(self.held.saturating_add(self.granted))
        }
    }

    /// Sets up a new manual-ack consumer; returns its initial credit.
    pub fn start(&mut self, per_consumer: u32) -> (ConsumerCredit, u32) {
        if per_consumer == 0 && self.limit == 0 {
            let c = ConsumerCredit {
                unlimited: true,
                ..ConsumerCredit::default()
            };
            return (c, UNLIMITED);
        }
        let mut c = ConsumerCredit {
            limit: per_consumer,
            ..ConsumerCredit::default()
        };
        self.consumers = self.consumers.saturating_add(1);
        let n = self.top_up(&mut c);
        (c, n)
    }

    /// A delivery to `c` used one credit.
    pub fn delivered(&mut self, c: &mut ConsumerCredit) {
        if c.unlimited {
            return;
        }
        c.granted = c.granted.saturating_sub(1);
        c.held = c.held.saturating_add(1);
        self.granted = self.granted.saturating_sub(1);
        self.held = self.held.saturating_add(1);
    }

    /// A delivery to `c` was settled (acked, nacked, rejected, requeued by recover).
    pub fn settled(&mut self, c: &mut ConsumerCredit) {
        if c.unlimited {
            return;
        }
        c.held = c.held.saturating_sub(1);
        self.held = self.held.saturating_sub(1);
    }

    /// `c` went away: its unused credit and outstanding deliveries no longer count
    /// against the channel.
    pub fn stopped(&mut self, c: &ConsumerCredit) {
        if c.unlimited {
            return;
        }
        self.granted = self.granted.saturating_sub(c.granted);
        self.held = self.held.saturating_sub(c.held);
        self.consumers = self.consumers.saturating_sub(1);
    }

    /// How much more credit `c` may be given now, recorded as granted.
    pub fn top_up(&mut self, c: &mut ConsumerCredit) -> u32 {
        if c.unlimited {
            return 0;
        }
        let mut want = if c.limit == 0 {
            UNLIMITED
        } else {
            c.limit.saturating_sub(c.held.saturating_add(c.granted))
        };
        if self.limit > 0 {
            // Credit cannot be taken back once granted, and a consumer whose queue is
            // empty never uses it. A fair share per consumer keeps such a consumer from
            // sitting on the whole channel budget while the others starve.
            let share = self.limit.div_ceil(self.consumers.max(1));
            want = want.min(share.saturating_sub(c.held.saturating_add(c.granted)));
        }
        let mut n = want.min(self.room());
        if n == UNLIMITED {
            // Only reachable with no channel limit and no consumer limit, which
            // `start` handles; keep the sums finite regardless.
            n = UNLIMITED - 1;
        }
        c.granted = c.granted.saturating_add(n);
        self.granted = self.granted.saturating_add(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_consumer_prefetch() {
        let mut ch = ChannelCredit::default();
        let (mut c, n) = ch.start(2);
        assert_eq!(n, 2);
        ch.delivered(&mut c);
        ch.delivered(&mut c);
        assert_eq!(ch.top_up(&mut c), 0);
        ch.settled(&mut c);
        assert_eq!(ch.top_up(&mut c), 1);
    }

    #[test]
    fn no_limit_is_unlimited_once() {
        let mut ch = ChannelCredit::default();
        let (mut c, n) = ch.start(0);
        assert_eq!(n, UNLIMITED);
        ch.delivered(&mut c);
        ch.settled(&mut c);
        assert_eq!(ch.top_up(&mut c), 0);
    }

    #[test]
    fn global_limit_is_shared() {
        let mut ch = ChannelCredit {
            limit: 3,
            ..ChannelCredit::default()
        };
        let (mut a, na) = ch.start(0);
        let (mut b, nb) = ch.start(0);
        assert_eq!((na, nb), (3, 0));
        for _ in 0..3 {
            ch.delivered(&mut a);
        }
        assert_eq!(ch.top_up(&mut b), 0);
        ch.settled(&mut a);
        assert_eq!(ch.top_up(&mut b), 1);
        assert_eq!(ch.top_up(&mut a), 0);
    }

    #[test]
    fn both_limits_apply() {
        let mut ch = ChannelCredit {
            limit: 10,
            ..ChannelCredit::default()
        };
        let (_a, na) = ch.start(4);
        let (_b, nb) = ch.start(4);
        let (_c, nc) = ch.start(4);
        assert_eq!((na, nb, nc), (4, 4, 2));
        let (_d, nd) = ch.start(4);
        assert_eq!(nd, 0, "the budget is spent");
    }

    #[test]
    fn an_idle_consumer_cannot_hoard_the_channel_budget() {
        let mut ch = ChannelCredit {
            limit: 4,
            ..ChannelCredit::default()
        };
        let (mut a, na) = ch.start(0);
        assert_eq!(na, 4);
        let (mut b, nb) = ch.start(0);
        assert_eq!(nb, 0);
        for _ in 0..4 {
            ch.delivered(&mut a);
        }
        for _ in 0..4 {
            ch.settled(&mut a);
        }
        // `a` may take back only its share; the rest is `b`'s.
        assert_eq!(ch.top_up(&mut a), 2);
        assert_eq!(ch.top_up(&mut b), 2);
    }

    #[test]
    fn stopping_frees_the_channel() {
        let mut ch = ChannelCredit {
            limit: 2,
            ..ChannelCredit::default()
        };
        let (mut a, _) = ch.start(0);
        ch.delivered(&mut a);
        ch.stopped(&a);
        let (_b, nb) = ch.start(0);
        assert_eq!(nb, 2);
    }
}
