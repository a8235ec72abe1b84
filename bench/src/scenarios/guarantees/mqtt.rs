//! MQTT: QoS 0, 1 and 2 to a persistent session (clean session off), acknowledged by the
//! subscriber after processing (manual acks). The kill drops the connection without
//! DISCONNECT; the restart resumes the session, and the broker resends what was not
//! acknowledged. A restarted client has lost its own QoS 2 state, so a message it
//! processed but had not yet PUBREC'd can come again: exactly-once holds per session.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use rumqttc::{Event, Packet};

use super::{Mode, kill_point, measured, restart_note};
use crate::args::HostPort;
use crate::clients::Run;
use crate::clients::mqtt::{connect, connect_with, options, publish, qos};
use crate::flow::{Finish, Layout, Quota, Receiver, unique_name};
use crate::row::Measured;

pub async fn run(addr: &HostPort, mode: Mode, n: u64, run: &Run) -> Result<Measured> {
    let q = match mode {
        Mode::AtMostOnce => 0,
        Mode::AtLeastOnce => 1,
        Mode::ExactlyOnce => 2,
    };
    let topic = unique_name("guarantees").replace('-', "/");
    let id = format!("bench-guarantees-{}-{q}", std::process::id());
    let finish = Finish::new(run.quick);
    let mut r = Receiver::new(Layout::Fanout(1), finish.clone(), run.progress.clone());
    let session = |clean: bool| {
        let mut o = options(addr, &id, 100);
        o.set_clean_session(clean).set_manual_acks(true);
        o
    };
    let started = Instant::now();
    let mut producer = None;
    let mut killed_at = None;
    let mut broken = None;
    for life in 0..2 {
        // A request queue deep enough for every manual ack a resumed session's
        // redeliveries call for: acks wait in it until the event loop is polled.
        let (client, mut el) = connect_with(addr, session(false), u16::MAX).await?;
        if life == 0 {
            client.subscribe(&topic, qos(q)).await?;
            loop {
                let ev = tokio::time::timeout(Duration::from_secs(10), el.poll())
                    .await
                    .map_err(|_| anyhow!("no SUBACK within 10 s"))??;
                if let Event::Incoming(Packet::SubAck(_)) = ev {
                    break;
                }
            }
            let (pc, pel) = connect(
                addr,
                &format!("bench-guarantees-{}-pub", std::process::id()),
                100,
            )
            .await?;
            let (t, size, f) = (topic.clone(), run.size, finish.clone());
            producer = Some(tokio::spawn(async move {
                let sent = publish(pc, pel, t, 0, Quota::Count(n), size, q, None).await?;
                f.produced(sent);
                Ok::<_, anyhow::Error>(sent)
            }));
        }
        if life > 0 {
            r.restarted();
        }
        let killed = loop {
            if r.done() {
                break false;
            }
            if life == 0 && r.tally.received() >= kill_point(n) {
                break true;
            }
            match tokio::time::timeout(Duration::from_millis(100), el.poll()).await {
                Err(_) => r.waiting(),
                Ok(Err(e)) if life > 0 => {
                    // The restarted client cannot go on with the session (rumqttc keeps no
                    // QoS 2 state across restarts and refuses the broker's PUBREL for a
                    // message its previous life PUBREC'd): the rest counts as lost.
                    broken = Some(e.to_string());
                    break false;
                }
                Ok(Err(e)) => return Err(e).context("subscriber connection"),
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    r.on_message(&p.payload); // "processing", then the acknowledgement
                    if p.qos != rumqttc::QoS::AtMostOnce {
                        client.ack(&p).await?;
                    }
                }
                Ok(Ok(_)) => {}
            }
        };
        if killed {
            // No DISCONNECT: the socket just closes, as when a process dies.
            killed_at = Some(r.tally.received());
            drop(el);
            drop(client);
            continue;
        }
        if broken.is_none() {
            let _ = client.disconnect().await;
            let _ = tokio::time::timeout(Duration::from_secs(1), el.poll()).await;
        }
        break;
    }
    let sent = match producer {
        Some(p) => p.await.context("producer task")??,
        None => 0,
    };
    // Remove the persistent session: connect once with a clean session.
    if let Ok((c, mut el)) = connect_with(addr, session(true), 10).await {
        let _ = c.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), el.poll()).await;
    }
    let mut note = restart_note(killed_at, n);
    note.push_str(&format!("; QoS {q}, persistent session"));
    if let Some(e) = broken {
        note.push_str(&format!(
            "; the restarted subscriber stopped: {e} (rumqttc keeps no QoS 2 state across restarts)"
        ));
    }
    Ok(measured(sent, r, started, run.size, note))
}
