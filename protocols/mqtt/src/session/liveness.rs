//! Keep alive: a client that sends nothing for one and a half times its keep alive is
//! disconnected ([MQTT-3.1.2-22] in 5.0, [MQTT-3.1.2-24] in 3.1.1).

use std::time::Duration;

use tokio::time::Instant;

pub(crate) struct Liveness {
    /// Seconds; 0 disables the check.
    keep_alive: u16,
    last_read: Instant,
}

impl Liveness {
    pub fn new(keep_alive: u16) -> Self {
        Self {
            keep_alive,
            last_read: Instant::now(),
        }
    }

    pub fn read_activity(&mut self) {
        self.last_read = Instant::now();
    }

    /// When the client is considered gone, if it does not send anything before.
    pub fn deadline(&self) -> Option<Instant> {
        (self.keep_alive > 0)
            .then(|| self.last_read + Duration::from_millis(u64::from(self.keep_alive) * 1500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_a_half_times_the_keep_alive() {
        let l = Liveness::new(10);
        let d = l.deadline().map(|d| d - l.last_read);
        assert_eq!(d, Some(Duration::from_secs(15)));
        assert!(Liveness::new(0).deadline().is_none());
    }
}
