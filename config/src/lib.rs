//! Trident's typed settings: defaults, TOML file, TRIDENT_* environment, validation
