//! What the idle-connection modes (AMQP, Kafka, MQTT) share: collecting the connections
//! that opened, and why the others did not, from the tasks that opened them.

use tokio::task::JoinHandle;

/// The connections that opened, how many did not, and the first reason why.
pub struct Opened<S> {
    pub streams: Vec<S>,
    pub failures: usize,
    pub first_error: Option<String>,
}

/// Waits for every opening task; a task that failed or panicked counts as a failure.
pub async fn collect<S>(handles: Vec<JoinHandle<Result<S, String>>>) -> Opened<S> {
    let mut out = Opened {
        streams: Vec::with_capacity(handles.len()),
        failures: 0,
        first_error: None,
    };
    for h in handles {
        let failed = match h.await {
            Ok(Ok(s)) => {
                out.streams.push(s);
                continue;
            }
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        out.failures += 1;
        out.first_error.get_or_insert(failed);
    }
    out
}
