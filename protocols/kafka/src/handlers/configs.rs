//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (retention and
//! segment settings); broker configs are described read-only.

use trident_core::TopicConfig;

use trident_engine::Access;

use super::authz::Authz;
use crate::error_code as ec;
use crate::messages::configs::*;
use crate::shared::Shared;
use crate::topic_config::{
    self, Entry, SOURCE_DEFAULT, SOURCE_DYNAMIC_TOPIC, SOURCE_STATIC_BROKER,
};

pub async fn describe(
    b: &Shared,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    describe_as(b, req, version, &Authz::Anonymous).await
}

/// DescribeConfigs for a caller: a topic's configs need read or configure on it. The
/// broker's are open to every caller: they are the static defaults any client can
/// infer, and the access model has no cluster resource (Kafka asks for DESCRIBE_CONFIGS
/// on the cluster).
pub async fn describe_as(
    b: &Shared,
    req: DescribeConfigsRequest,
    version: i16,
    authz: &Authz,
) -> DescribeConfigsResponse {
    let engine_cfg = b.engine.config();
    let max = engine_cfg.max_message_bytes;
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let mut out = DescribeConfigsResult {
                error_code: ec::NONE,
                error_message: None,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                configs: Vec::new(),
            };
            let (entries, topic_level) = match r.resource_type {
                RESOURCE_TOPIC if !authz.may_describe_configs(&r.resource_name) => {
                    out.error_code = ec::TOPIC_AUTHORIZATION_FAILED;
                    out.error_message = Some(format!(
                        "not authorized to describe configs of topic '{}'",
                        r.resource_name
                    ));
                    return out;
                }
                RESOURCE_TOPIC => match b.engine.topic(&r.resource_name) {
                    Some(t) => (
                        topic_config::describe(&t.config, &engine_cfg.default_topic, max),
                        true,
                    ),
                    None => {
                        out.error_code = ec::UNKNOWN_TOPIC_OR_PARTITION;
                        out.error_message = Some(format!("no topic '{}'", r.resource_name));
                        return out;
                    }
                },
                RESOURCE_BROKER
                    if r.resource_name.is_empty() || r.resource_name == b.node_id().to_string() =>
                {
                    (
                        topic_config::describe_broker(
                            engine_cfg.auto_create_topics,
                            &engine_cfg.default_topic,
                            max,
                        ),
                        false,
                    )
                }
                _ => {
                    out.error_code = ec::INVALID_REQUEST;
                    out.error_message = Some("unsupported resource".into());
                    return out;
                }
            };
            out.configs = entries
                .into_iter()
                .filter(|e| {
                    r.configuration_keys
                        .as_ref()
                        .is_none_or(|keys| keys.iter().any(|k| k == e.name))
                })
                .map(|e| {
                    entry(
                        e,
                        topic_level,
                        req.include_synonyms,
                        req.include_documentation,
                        version,
                    )
                })
                .collect();
            out
        })
        .collect();
    DescribeConfigsResponse {
        throttle_time_ms: 0,
        results,
    }
}

fn entry(
    e: Entry,
    topic_level: bool,
    synonyms: bool,
    docs: bool,
    _version: i16,
) -> DescribeConfigsResourceResult {
    let source = match (topic_level, e.is_default) {
        (false, _) => SOURCE_STATIC_BROKER,
        (true, true) => SOURCE_DEFAULT,
        (true, false) => SOURCE_DYNAMIC_TOPIC,
    };
    DescribeConfigsResourceResult {
        name: e.name.to_string(),
        value: Some(e.value.clone()),
        read_only: e.read_only,
        is_default: e.is_default,
        config_source: source,
        is_sensitive: false,
        synonyms: if synonyms {
            vec![DescribeConfigsSynonym {
                name: e.name.to_string(),
                value: Some(e.value),
                source,
            }]
        } else {
            Vec::new()
        },
        config_type: e.config_type,
        documentation: docs.then(|| e.doc.to_string()),
    }
}

/// Checks and applies new settings for one topic resource.
async fn alter_topic(
    b: &Shared,
    name: &str,
    validate_only: bool,
    change: impl FnOnce(&mut TopicConfig, &TopicConfig) -> Result<(), String>,
) -> (i16, Option<String>) {
    let Some(topic) = b.engine.topic(name) else {
        return (
            ec::UNKNOWN_TOPIC_OR_PARTITION,
            Some(format!("no topic '{name}'")),
        );
    };
    let defaults = &b.engine.config().default_topic;
    let mut cfg = topic.config.clone();
    if let Err(msg) = change(&mut cfg, defaults) {
        return (ec::INVALID_CONFIG, Some(msg));
    }
    if validate_only || cfg == topic.config {
        return (ec::NONE, None);
    }
    match b.engine.alter_topic_config(name, cfg).await {
        Ok(()) => (ec::NONE, None),
        Err(e) => (ec::from_engine(&e), Some(e.to_string())),
    }
}

/// Why a resource may not be altered at all: not a topic, or (Kafka: ALTER_CONFIGS) no
/// configure permission on it.
fn refusal(resource_type: i8, name: &str, authz: &Authz) -> Option<(i16, Option<String>)> {
    if resource_type != RESOURCE_TOPIC {
        return Some((
            ec::INVALID_REQUEST,
            Some(
                "only topic configs can be altered; broker settings come from the config file"
                    .into(),
            ),
        ));
    }
    (!authz.may(Access::Configure, name)).then(|| {
        (
            ec::TOPIC_AUTHORIZATION_FAILED,
            Some(format!("not authorized to alter configs of topic '{name}'")),
        )
    })
}

pub async fn alter(b: &Shared, req: AlterConfigsRequest, version: i16) -> AlterConfigsResponse {
    alter_as(b, req, version, &Authz::Anonymous).await
}

pub async fn alter_as(
    b: &Shared,
    req: AlterConfigsRequest,
    _version: i16,
    authz: &Authz,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let (code, msg) = match refusal(r.resource_type, &r.resource_name, authz) {
            Some(err) => err,
            None => {
                // AlterConfigs replaces the whole set: what is not named reverts.
                alter_topic(b, &r.resource_name, req.validate_only, |cfg, defaults| {
                    let partitions = cfg.partitions;
                    *cfg = defaults.clone();
                    cfg.partitions = partitions;
                    for c in &r.configs {
                        topic_config::apply(cfg, defaults, &c.name, c.value.as_deref())?;
                    }
                    Ok(())
                })
                .await
            }
        };
        responses.push(AlterConfigsResourceResponse {
            error_code: code,
            error_message: msg,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
        });
    }
    AlterConfigsResponse {
        throttle_time_ms: 0,
        responses,
    }
}

pub async fn incremental_alter(
    b: &Shared,
    req: IncrementalAlterConfigsRequest,
    version: i16,
) -> AlterConfigsResponse {
    incremental_alter_as(b, req, version, &Authz::Anonymous).await
}

pub async fn incremental_alter_as(
    b: &Shared,
    req: IncrementalAlterConfigsRequest,
    _version: i16,
    authz: &Authz,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let (code, msg) = match refusal(r.resource_type, &r.resource_name, authz) {
            Some(err) => err,
            None => {
                alter_topic(b, &r.resource_name, req.validate_only, |cfg, defaults| {
                    for c in &r.configs {
                        match c.config_operation {
                            0 => topic_config::apply(cfg, defaults, &c.name, c.value.as_deref())?,
                            1 => topic_config::apply(cfg, defaults, &c.name, None)?,
                            op => {
                                return Err(format!(
                                    "operation {op} (APPEND/SUBTRACT) applies to list configs; '{}' is not one",
                                    c.name
                                ));
                            }
                        }
                    }
                    Ok(())
                })
                .await
            }
        };
        responses.push(AlterConfigsResourceResponse {
            error_code: code,
            error_message: msg,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
        });
    }
    AlterConfigsResponse {
        throttle_time_ms: 0,
        responses,
    }
}
