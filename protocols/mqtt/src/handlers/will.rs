//! The will: published when the connection ends without a normal DISCONNECT, after
//! the v5 Will Delay Interval (or when the session ends, if sooner). A connection
//! that resumes the session within the delay cancels it (the registry holds the
//! cancel handle), as the spec requires (§3.1.3.2.2).

use std::time::Duration;

use tokio::sync::oneshot;
use trident_engine::PublishOptions;

use crate::message::inbound;
use crate::session::Session;
use crate::stats::MqttStats;

impl Session {
    /// Publishes the will now, or schedules it; returns the handle that cancels a
    /// scheduled one.
    pub(crate) async fn publish_will(&mut self) -> Option<oneshot::Sender<()>> {
        let will = self.will.take()?;
        let delay = will
            .properties
            .will_delay_interval
            .unwrap_or(0)
            .min(self.expiry);
        let message = inbound(
            self.shared.exchange.as_str(),
            &will.topic,
            will.qos,
            will.retain,
            &will.properties.message,
            will.payload.clone(),
            Some(self.client_id.clone()),
        );
        let vhost = self.shared.vhost.clone();
        let exchange = self.shared.exchange.clone();
        let stats = self.shared.stats.clone();
        let retain = will.retain;
        let publish = async move {
            MqttStats::add(&stats.wills_published, 1);
            if retain {
                let kept = (!message.body.is_empty()).then(|| message.clone());
                if let Err(e) = vhost.retain(&exchange, &message.routing_key, kept).await {
                    tracing::warn!(error = %e, "MQTT retained will not stored");
                }
            }
            let opts = PublishOptions {
                mandatory: false,
                confirm: true,
            };
            match vhost.publish(message, &exchange, opts).await {
                Ok(p) => {
                    if let Some(c) = p.confirm {
                        let _ = c.wait().await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "MQTT will not published"),
            }
        };
        if delay == 0 {
            publish.await;
            return None;
        }
        let (cancel, cancelled) = oneshot::channel::<()>();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(u64::from(delay))) => publish.await,
                _ = cancelled => {}
            }
        });
        Some(cancel)
    }
}
