//! Topics as binding destinations ("streams"): a binding whose destination names a
//! topic instead of a queue appends each message it routes as one record (records
//! queued on a partition together share one batch, `topic::coalesce`), so that
//! Kafka consumers read what AMQP and MQTT publishers send. The routing table does not
//! know the difference (it routes to names); the vhost resolves a name that is not a
//! queue against the engine's topics at delivery time.
//!
//! A stream append confirms through the same ticket as a queue delivery: once the
//! record is written, or, for a persistent message whose publisher asked for a
//! confirmation, once it is as durable as the durability setting promises (acks=all).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use trident_core::{Message, TopicName};
use trident_records::to_record;

use crate::publish::{ConfirmTicket, Nack};
use crate::topic::Topic;

/// The engine's topics, shared with the vhosts so they can resolve stream destinations
/// without a reference to the engine.
pub(crate) type TopicMap = Arc<ArcSwap<HashMap<TopicName, Arc<Topic>>>>;

/// Appends `message` as one record to the partition its key picks (round robin when
/// it has none), completing `ticket` with the outcome.
pub(crate) async fn append_message(
    topic: &Topic,
    message: &Message,
    ticket: Option<ConfirmTicket>,
) {
    let name = topic.name.to_string();
    let fail = |ticket: Option<ConfirmTicket>, why: String| {
        tracing::warn!(topic = %name, error = %why, "a message routed to a topic was not appended");
        if let Some(t) = ticket {
            t.complete(Err(Nack::Storage(name.clone(), why)));
        }
    };
    let index = topic.choose_partition(message.key.as_deref());
    let Some(partition) = topic.partition(index) else {
        return fail(ticket, format!("partition {index} is missing"));
    };
    let wait_durable = ticket.is_some() && message.is_persistent();
    // Queued inline, so that messages routed to the same partition keep their order;
    // the outcome is awaited off the publish path.
    match partition
        .enqueue_record(to_record(message), wait_durable)
        .await
    {
        Ok(pending) => {
            if let Some(t) = ticket {
                tokio::spawn(async move {
                    let r = match pending.result().await {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(Nack::Storage(name, e.to_string())),
                        Err(e) => Err(Nack::Storage(name, e.to_string())),
                    };
                    t.complete(r);
                });
            }
        }
        Err(e) => fail(ticket, e.to_string()),
    }
}
