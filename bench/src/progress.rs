//! The live progress line on stderr: what runs, messages done, rate, elapsed and ETA,
//! redrawn in place twice a second and cleared when the variant ends.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Progress {
    done: AtomicU64,
    stop: AtomicBool,
}

impl Progress {
    /// Messages completed (received, or sent for send-only rows).
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

/// Stops the line and clears it when dropped.
#[derive(Debug)]
pub struct Line {
    progress: Arc<Progress>,
    task: Option<std::thread::JoinHandle<()>>,
}

impl Line {
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.progress.stop.store(true, Ordering::Release);
        if let Some(t) = self.task.take() {
            let _ = t.join();
        }
    }
}

/// Formats one progress line (split out to be tested).
pub fn render(label: &str, done: u64, expected: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = done as f64 / secs;
    let eta = match expected {
        Some(n) if rate > 0.0 && n > done => format!("{:.1}s", (n - done) as f64 / rate),
        Some(_) => "0.0s".into(),
        None => "?".into(),
    };
    let of = expected.map(|n| format!("/{n}")).unwrap_or_default();
    format!(
        "{label}: {done}{of} msgs, {} msg/s, elapsed {:.1}s, ETA {eta}",
        rate.round(),
        secs
    )
}

/// Starts a progress line for `label`; `expected` messages in total when known, for
/// the ETA (a timed run passes its duration as the count it would reach at the rate).
pub fn start(label: String, expected: Option<u64>, until: Option<Duration>) -> Line {
    let progress = Arc::new(Progress {
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let p = progress.clone();
    let task = std::thread::Builder::new()
        .name("bench-progress".into())
        .spawn(move || {
            let started = Instant::now();
            let mut drawn = false;
            let mut tick = 0u32;
            // Short sleeps so that the line stops promptly; a redraw every fifth.
            while !p.stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
                tick += 1;
                if !tick.is_multiple_of(5) {
                    continue;
                }
                let elapsed = started.elapsed();
                let done = p.done.load(Ordering::Relaxed);
                let expected = expected.or_else(|| {
                    until.map(|u| (done as f64 / elapsed.as_secs_f64() * u.as_secs_f64()) as u64)
                });
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{}", render(&label, done, expected, elapsed));
                let _ = err.flush();
                drawn = true;
            }
            if drawn {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
        })
        .ok();
    Line { progress, task }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_rate_elapsed_and_eta() {
        let s = render("sink amqp", 500, Some(1000), Duration::from_secs(1));
        assert_eq!(
            s,
            "sink amqp: 500/1000 msgs, 500 msg/s, elapsed 1.0s, ETA 1.0s"
        );
        assert!(render("x", 5, None, Duration::from_secs(1)).ends_with("ETA ?"));
    }
}
