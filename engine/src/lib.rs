//! The engine: vhosts, exchanges, queues, partitioned logs, consumer group offsets
