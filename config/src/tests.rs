use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_valid() {
    let c = load(None, env(&[]), &[]).expect("defaults load");
    assert_eq!(c.amqp.listen, "0.0.0.0:5672");
    assert_eq!(c.mqtt.listen, "0.0.0.0:1883");
    assert_eq!(c.kafka.listen, "0.0.0.0:9092");
    assert_eq!(c.http.listen, "0.0.0.0:15672");
    assert_eq!(c.data_dir, std::path::PathBuf::from("./data"));
    assert_eq!(c.durability, DurabilitySetting::Fsync);
}

#[test]
fn precedence_flags_over_env_over_file() {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(f, "data_dir = \"/from/file\"\n[amqp]\nlisten = \"127.0.0.1:1111\"\n[kafka]\nlisten = \"127.0.0.1:2222\"")
        .expect("write");
    let c = load(
        Some(f.path()),
        env(&[
            ("TRIDENT_AMQP_LISTEN", "127.0.0.1:3333"),
            ("TRIDENT_DATA_DIR", "/from/env"),
        ]),
        &[("data_dir", "/from/flag".to_string())],
    )
    .expect("loads");
    assert_eq!(c.data_dir, std::path::PathBuf::from("/from/flag"));
    assert_eq!(c.amqp.listen, "127.0.0.1:3333");
    assert_eq!(c.kafka.listen, "127.0.0.1:2222");
}

#[test]
fn errors_name_the_setting() {
    let e =
        load(None, env(&[("TRIDENT_AMQP_LISTEN", "not-an-address")]), &[]).expect_err("bad addr");
    assert!(e.to_string().contains("amqp.listen"), "{e}");
    let e = load(None, env(&[("TRIDENT_AMQP_FRAME_MAX", "lots")]), &[]).expect_err("bad int");
    assert!(
        e.to_string().contains("amqp.frame_max")
            && e.to_string().contains("TRIDENT_AMQP_FRAME_MAX"),
        "{e}"
    );
    let e = load(None, env(&[("TRIDENT_DURABILITY", "sometimes")]), &[]).expect_err("bad enum");
    assert!(e.to_string().contains("sometimes"), "{e}");
}

#[test]
fn unknown_environment_variables_are_warned_about_not_fatal() {
    // What Kubernetes injects for a Service named `trident`, plus a typo.
    let vars = [
        ("TRIDENT_PORT", "tcp://10.0.0.7:5672"),
        ("TRIDENT_SERVICE_HOST", "10.0.0.7"),
        ("TRIDENT_AMQP_LISTN", "0.0.0.0:5673"),
        ("TRIDENT_DATA_DIR", "/from/env"),
    ];
    let c = load(None, env(&vars), &[]).expect("unknown variables do not stop the broker");
    assert_eq!(c.data_dir, std::path::PathBuf::from("/from/env"));
    let w = unknown_env_warnings(env(&vars));
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter()
            .any(|m| m.contains("TRIDENT_AMQP_LISTN")
                && m.contains("did you mean TRIDENT_AMQP_LISTEN")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.contains("TRIDENT_PORT") && !m.contains("did you mean")),
        "{w:?}"
    );
    assert!(!w.iter().any(|m| m.contains("TRIDENT_DATA_DIR")), "{w:?}");
}

#[test]
fn unknown_file_keys_are_refused() {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(f, "[amqp]\nlisten = \"127.0.0.1:1\"\nfram_max = 5").expect("write");
    let e = load(Some(f.path()), env(&[]), &[]).expect_err("typo");
    assert!(e.to_string().contains("fram_max"), "{e}");
}

#[test]
fn kafka_knobs_are_unset_by_default_and_read_from_the_environment() {
    let c = load(None, env(&[]), &[]).expect("defaults load");
    assert_eq!(c.kafka.max_in_flight, None);
    let c = load(None, env(&[("TRIDENT_KAFKA_MAX_IN_FLIGHT", "5")]), &[]).expect("loads");
    assert_eq!(c.kafka.max_in_flight, Some(5));
    let bad = load(None, env(&[("TRIDENT_KAFKA_MAX_IN_FLIGHT", "0")]), &[]);
    assert!(bad.is_err(), "0 in flight must be refused");
}

#[test]
fn amqp_and_limit_knobs_are_unset_by_default_and_read_when_given() {
    let c = load(None, env(&[]), &[]).expect("defaults load");
    assert_eq!(
        (
            c.amqp.frame_max,
            c.amqp.max_connections,
            c.amqp.flow_backlog
        ),
        (None, None, None)
    );
    assert_eq!(c.limits.queue_memory_bytes, None);
    let c = load(
        None,
        env(&[
            ("TRIDENT_AMQP_MAX_CONNECTIONS", "500"),
            ("TRIDENT_AMQP_FLOW_BACKLOG", "0"),
        ]),
        &[("limits.queue_memory_messages", "10".to_string())],
    )
    .expect("loads");
    assert_eq!(c.amqp.max_connections, Some(500));
    assert_eq!(c.amqp.flow_backlog, Some(0), "0 turns flow control off");
    assert_eq!(c.limits.queue_memory_messages, Some(10));
    let bad = load(None, env(&[("TRIDENT_AMQP_FRAME_MAX", "1000")]), &[]);
    assert!(bad.is_err(), "below the AMQP minimum frame size");
    let bad = load(
        None,
        env(&[]),
        &[("limits.queue_memory_bytes", "0".to_string())],
    );
    assert!(bad.is_err(), "a queue must keep something in memory");
}

#[test]
fn the_default_administrator_comes_from_auth_settings_and_admin_cli_variables_are_known() {
    let c = load(None, env(&[]), &[]).expect("defaults");
    assert_eq!(c.auth.default_user, "guest");
    assert_eq!(c.auth.default_pass, None, "unset: loopback-only guest");
    let vars = [
        ("TRIDENT_AUTH_DEFAULT_USER", "admin"),
        ("TRIDENT_AUTH_DEFAULT_PASS", "from-the-env"),
        ("TRIDENT_ADMIN_URL", "http://broker:15672"),
        ("TRIDENT_ADMIN_USER", "admin"),
        ("TRIDENT_ADMIN_PASS", "x"),
    ];
    let c = load(None, env(&vars), &[]).expect("auth from the environment");
    assert_eq!(c.auth.default_user, "admin");
    assert_eq!(c.auth.default_pass.as_deref(), Some("from-the-env"));
    assert!(
        !format!("{c:?}").contains("from-the-env"),
        "the password stays out of debug output"
    );
    assert!(unknown_env_warnings(env(&vars)).is_empty());
    let e = load(None, env(&[]), &[("auth.default_pass", String::new())]).expect_err("empty");
    assert!(e.to_string().contains("auth.default_pass"), "{e}");
}
