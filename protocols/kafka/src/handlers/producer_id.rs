//! InitProducerId for idempotent producers. Transactional ids are refused: transactions
//! are not served.

use crate::error_code as ec;
use crate::messages::producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::shared::Shared;

pub async fn handle(
    b: &Shared,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    if req.transactional_id.is_some() {
        return InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: ec::INVALID_REQUEST,
            producer_id: -1,
            producer_epoch: -1,
        };
    }
    // KIP-360: a producer that hit a sequence error asks for its id with the next epoch,
    // which resets its sequence numbers without losing its identity.
    let (producer_id, producer_epoch) =
        if req.producer_id >= 0 && (0..i16::MAX - 1).contains(&req.producer_epoch) {
            (req.producer_id, req.producer_epoch + 1)
        } else {
            match b.producer_ids.allocate(&b.engine) {
                Ok(id) => (id, 0),
                Err(e) => {
                    tracing::error!(error = %e, "cannot allocate a producer id");
                    return InitProducerIdResponse {
                        throttle_time_ms: 0,
                        error_code: ec::from_engine(&e),
                        producer_id: -1,
                        producer_epoch: -1,
                    };
                }
            }
        };
    InitProducerIdResponse {
        throttle_time_ms: 0,
        error_code: ec::NONE,
        producer_id,
        producer_epoch,
    }
}
