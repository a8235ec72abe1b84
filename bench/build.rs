//! Records the versions of the client libraries from the workspace's Cargo.lock, so that
//! every report says which clients measured it.

fn main() {
    let lock = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for (krate, var) in [
        ("lapin", "BENCH_LAPIN_VERSION"),
        ("rumqttc", "BENCH_RUMQTTC_VERSION"),
        ("rdkafka", "BENCH_RDKAFKA_VERSION"),
    ] {
        let needle = format!("name = \"{krate}\"\nversion = \"");
        let v = text
            .find(&needle)
            .map(|i| &text[i + needle.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("unknown");
        println!("cargo:rustc-env={var}={v}");
    }
}
