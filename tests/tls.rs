//! TLS on every listener, with real clients (tests/python_tls under pytest: pika,
//! paho-mqtt, confluent-kafka, urllib) against a CA, server and client certificate
//! generated here for each run.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use support::{Broker, free_port, repo_root, venv};

struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pem).expect("write a PEM file");
    p
}

/// A CA, a server certificate for `localhost` and `127.0.0.1` (Kafka clients connect
/// to the advertised IP), and a client certificate, all signed by the CA.
fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "trident test CA");
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let leaf = |names: Vec<String>, cn: &str| {
        let mut p = CertificateParams::new(names).expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("leaf key");
        let cert = p.signed_by(&key, &ca, &ca_key).expect("sign leaf");
        (cert.pem(), key.serialize_pem())
    };
    let (cert, key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost");
    let (client_cert, client_key) = leaf(vec!["client".into()], "client");
    Pki {
        ca: write(dir, "ca.pem", &ca.pem()),
        cert: write(dir, "server.pem", &cert),
        key: write(dir, "server.key", &key),
        client_cert: write(dir, "client.pem", &client_cert),
        client_key: write(dir, "client.key", &client_key),
    }
}

#[test]
fn every_listener_over_tls_with_real_clients() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = pki(dir.path());
    let (amqps, mqtts, kafkas, https) = (free_port(), free_port(), free_port(), free_port());
    let path = |p: &PathBuf| p.display().to_string();
    let broker = Broker::start_with(&[
        ("amqp.tls_listen", &amqps.to_string()),
        ("mqtt.tls_listen", &mqtts.to_string()),
        ("kafka.tls_listen", &kafkas.to_string()),
        ("http.tls_listen", &https.to_string()),
        ("tls.cert_file", &path(&pki.cert)),
        ("tls.key_file", &path(&pki.key)),
        // Client certificates are verified when presented, optional otherwise.
        ("tls.ca_file", &path(&pki.ca)),
    ]);
    let python = venv();
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/python_tls",
        ])
        .current_dir(repo_root())
        .env("TRIDENT_AMQPS", amqps.to_string())
        .env("TRIDENT_MQTTS", mqtts.to_string())
        .env("TRIDENT_KAFKAS", kafkas.to_string())
        .env("TRIDENT_HTTPS", https.to_string())
        .env("TRIDENT_TLS_CA", &pki.ca)
        .env("TRIDENT_TLS_CLIENT_CERT", &pki.client_cert)
        .env("TRIDENT_TLS_CLIENT_KEY", &pki.client_key)
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "pytest ran no test:\n{stdout}");
    drop(broker);
}

#[test]
fn a_tls_listener_without_certificates_is_refused_at_start() {
    let port = free_port();
    let out = Command::new(support::binary())
        .args(["serve", "--set"])
        .arg(format!("amqp.tls_listen={port}"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run the trident binary");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tls.cert_file"), "{stderr}");
}
