//! Segment logs, durable queue store, metadata store
