//! `trident users|vhosts|permissions|queues|...`: operator commands that talk to a
//! running broker over its management API (never to the data directory), so they work
//! the same against a local or a remote broker.
//!
//! Exit codes (documented in README): 0 done; 1 the broker refused (bad request, not
//! found, conflict); 2 usage (clap); 65 input refused before sending (weak password,
//! unreadable file); 69 broker unreachable; 70 the broker failed (5xx); 77 login
//! refused or not allowed (401/403).

mod alarms;
pub mod args;
mod client;
mod datetime;
mod password;
mod table;

use std::io::BufRead;
use std::process::ExitCode;

use serde_json::{Value, json};

use args::{AdminCommand, Connection, Format};
use client::{Client, ClientError, segment};
use table::Column;

/// A failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{status}: {reason}")]
    Refused { status: u16, reason: String },
}

impl AdminError {
    fn exit_code(&self) -> u8 {
        match self {
            AdminError::Input(_) => 65,
            AdminError::Client(ClientError::Url(..)) => 65,
            AdminError::Client(_) => 69,
            AdminError::Refused { status, .. } => match status {
                401 | 403 => 77,
                500.. => 70,
                _ => 1,
            },
        }
    }
}

/// Runs one admin command and prints its result; the exit code says how it went.
pub fn run(conn: &Connection, cmd: AdminCommand) -> ExitCode {
    match execute(conn, cmd) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trident: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

struct Ctx<'a> {
    client: Client,
    format: Format,
    conn: &'a Connection,
}

impl Ctx<'_> {
    /// Sends a request; a non-2xx answer becomes `Refused` with the API's reason.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, AdminError> {
        let bytes = body.map(Value::to_string);
        let r = self
            .client
            .request(method, path, bytes.as_deref().map(str::as_bytes))?;
        let parsed: Value = if r.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&r.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned()))
        };
        if (200..300).contains(&r.status) {
            return Ok(parsed);
        }
        let reason = parsed
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| parsed.to_string());
        let reason = match r.status {
            401 => format!(
                "login refused for user '{}' ({reason}); set --user/--pass or TRIDENT_ADMIN_USER/TRIDENT_ADMIN_PASS",
                self.conn.admin_user
            ),
            _ => reason,
        };
        Err(AdminError::Refused {
            status: r.status,
            reason,
        })
    }

    fn get(&self, path: &str) -> Result<Value, AdminError> {
        self.call("GET", path, None)
    }

    /// A listing as a table or as JSON.
    fn list(&self, path: &str, columns: &[Column]) -> Result<String, AdminError> {
        let v = self.get(path)?;
        Ok(self.show_rows(&v, columns))
    }

    fn show_rows(&self, v: &Value, columns: &[Column]) -> String {
        match self.format {
            Format::Json => pretty(v),
            Format::Table => match v.as_array() {
                Some(rows) => table::render(rows, columns),
                None => table::render(std::slice::from_ref(v), columns),
            },
        }
    }

    /// What a change prints: nothing for scripts to parse in JSON but `{}`, a line
    /// for people.
    fn done(&self, message: String) -> String {
        match self.format {
            Format::Json => "{}\n".into(),
            Format::Table => format!("{message}\n"),
        }
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// The password from the flag, else a prompt with echo off when standard input is a
/// terminal, else the first line of standard input; checked against the policy before
/// anything is sent.
fn new_password(user: &str, given: Option<String>) -> Result<String, AdminError> {
    let password = match given {
        Some(p) => p,
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                // At a terminal, prompt and read with echo off (rpassword talks to the
                // controlling terminal and restores its settings afterwards), as
                // rabbitmqctl and passwd do.
                rpassword::prompt_password(format!("Password for '{user}': ")).map_err(|e| {
                    AdminError::Input(format!("reading the password from the terminal: {e}"))
                })?
            } else {
                // A pipe or a file: the first line, for scripts.
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                    AdminError::Input(format!("reading the password from stdin: {e}"))
                })?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
        }
    };
    password::check(user, &password)
        .map_err(|why| AdminError::Input(format!("refusing the password for '{user}': {why}")))?;
    Ok(password)
}

fn vhost_path(base: &str, vhost: Option<&str>) -> String {
    match vhost {
        Some(v) => format!("{base}/{}", segment(v)),
        None => base.to_string(),
    }
}

const USER_COLS: &[Column] = &[
    ("NAME", "name"),
    ("TAGS", "tags"),
    ("LOOPBACK_ONLY", "loopback_only"),
];
const VHOST_COLS: &[Column] = &[("NAME", "name"), ("MESSAGES", "messages")];
const PERM_COLS: &[Column] = &[
    ("USER", "user"),
    ("VHOST", "vhost"),
    ("CONFIGURE", "configure"),
    ("WRITE", "write"),
    ("READ", "read"),
];
const QUEUE_COLS: &[Column] = &[
    ("VHOST", "vhost"),
    ("NAME", "name"),
    ("MESSAGES", "messages"),
    ("READY", "messages_ready"),
    ("UNACKED", "messages_unacknowledged"),
    ("CONSUMERS", "consumers"),
    ("DURABLE", "durable"),
];
const EXCHANGE_COLS: &[Column] = &[
    ("VHOST", "vhost"),
    ("NAME", "name"),
    ("TYPE", "type"),
    ("DURABLE", "durable"),
    ("AUTO_DELETE", "auto_delete"),
    ("INTERNAL", "internal"),
];
const BINDING_COLS: &[Column] = &[
    ("VHOST", "vhost"),
    ("SOURCE", "source"),
    ("DESTINATION", "destination"),
    ("TYPE", "destination_type"),
    ("ROUTING_KEY", "routing_key"),
];
const TOPIC_COLS: &[Column] = &[
    ("NAME", "name"),
    ("PARTITIONS", "partitions"),
    ("MESSAGES", "messages"),
    ("BYTES", "bytes"),
];
const PARTITION_COLS: &[Column] = &[
    ("PARTITION", "partition"),
    ("START-OFFSET", "start_offset"),
    ("END-OFFSET", "end_offset"),
    ("BYTES", "bytes"),
];
const GROUP_COLS: &[Column] = &[("GROUP", "group"), ("TOPICS", "topics"), ("LAG", "lag")];
const OFFSET_COLS: &[Column] = &[
    ("TOPIC", "topic"),
    ("PARTITION", "partition"),
    ("CURRENT-OFFSET", "committed_offset"),
    ("LOG-END-OFFSET", "end_offset"),
    ("LAG", "lag"),
];
const MEMBER_COLS: &[Column] = &[
    ("CONSUMER-ID", "member_id"),
    ("HOST", "host"),
    ("CLIENT-ID", "client_id"),
];
const CONNECTION_COLS: &[Column] = &[
    ("NAME", "name"),
    ("PROTOCOL", "protocol"),
    ("PEER_HOST", "peer_host"),
    ("PEER_PORT", "peer_port"),
    ("USER", "user"),
    ("VHOST", "vhost"),
    ("CLIENT", "client"),
];

fn execute(conn: &Connection, cmd: AdminCommand) -> Result<String, AdminError> {
    let ctx = Ctx {
        client: Client::new(&conn.admin_url, &conn.admin_user, &conn.admin_pass)?,
        format: conn.admin_format,
        conn,
    };
    use args::*;
    match cmd {
        AdminCommand::Users(c) => match c {
            UsersCmd::Add {
                name,
                password,
                tags,
            } => {
                let path = format!("/api/users/{}", segment(&name));
                // Refuse to overwrite: `add` means new (rabbitmqctl add_user does too).
                if ctx.get(&path).is_ok() {
                    return Err(AdminError::Refused {
                        status: 409,
                        reason: format!("user '{name}' already exists"),
                    });
                }
                let password = new_password(&name, password.password)?;
                ctx.call(
                    "PUT",
                    &path,
                    Some(&json!({ "password": password, "tags": tags })),
                )?;
                Ok(ctx.done(format!("added user '{name}'")))
            }
            UsersCmd::Delete { name } => {
                ctx.call("DELETE", &format!("/api/users/{}", segment(&name)), None)?;
                Ok(ctx.done(format!("deleted user '{name}'")))
            }
            UsersCmd::List => ctx.list("/api/users", USER_COLS),
            UsersCmd::Passwd { name, password } => {
                let path = format!("/api/users/{}", segment(&name));
                ctx.get(&path)?;
                let password = new_password(&name, password.password)?;
                ctx.call("PUT", &path, Some(&json!({ "password": password })))?;
                Ok(ctx.done(format!("changed the password of '{name}'")))
            }
            UsersCmd::Tag { name, tags } => {
                let path = format!("/api/users/{}", segment(&name));
                ctx.get(&path)?;
                ctx.call("PUT", &path, Some(&json!({ "tags": tags })))?;
                Ok(ctx.done(format!("set the tags of '{name}' to [{}]", tags.join(", "))))
            }
        },
        AdminCommand::Vhosts(c) => match c {
            VhostsCmd::Add { name } => {
                ctx.call(
                    "PUT",
                    &format!("/api/vhosts/{}", segment(&name)),
                    Some(&json!({})),
                )?;
                Ok(ctx.done(format!("added vhost '{name}'")))
            }
            VhostsCmd::Delete { name } => {
                ctx.call("DELETE", &format!("/api/vhosts/{}", segment(&name)), None)?;
                Ok(ctx.done(format!("deleted vhost '{name}' and everything in it")))
            }
            VhostsCmd::List => ctx.list("/api/vhosts", VHOST_COLS),
        },
        AdminCommand::Permissions(c) => match c {
            PermissionsCmd::Set {
                user,
                configure,
                write,
                read,
                vhost,
            } => {
                let path = format!(
                    "/api/permissions/{}/{}",
                    segment(&vhost.vhost),
                    segment(&user)
                );
                ctx.call(
                    "PUT",
                    &path,
                    Some(&json!({ "configure": configure, "write": write, "read": read })),
                )?;
                Ok(ctx.done(format!(
                    "set permissions of '{user}' in vhost '{}'",
                    vhost.vhost
                )))
            }
            PermissionsCmd::Clear { user, vhost } => {
                let path = format!(
                    "/api/permissions/{}/{}",
                    segment(&vhost.vhost),
                    segment(&user)
                );
                ctx.call("DELETE", &path, None)?;
                Ok(ctx.done(format!(
                    "cleared permissions of '{user}' in vhost '{}'",
                    vhost.vhost
                )))
            }
            PermissionsCmd::List { vhost } => {
                let all = ctx.get("/api/permissions")?;
                let rows: Vec<Value> = all
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| {
                        vhost
                            .as_deref()
                            .is_none_or(|v| p.get("vhost").and_then(Value::as_str) == Some(v))
                    })
                    .cloned()
                    .collect();
                Ok(ctx.show_rows(&Value::Array(rows), PERM_COLS))
            }
        },
        AdminCommand::Queues(c) => match c {
            QueuesCmd::List { vhost } => {
                ctx.list(&vhost_path("/api/queues", vhost.as_deref()), QUEUE_COLS)
            }
            QueuesCmd::Purge { name, vhost } => {
                let path = format!(
                    "/api/queues/{}/{}/contents",
                    segment(&vhost.vhost),
                    segment(&name)
                );
                ctx.call("DELETE", &path, None)?;
                Ok(ctx.done(format!("purged queue '{name}' in vhost '{}'", vhost.vhost)))
            }
            QueuesCmd::Delete {
                name,
                vhost,
                if_unused,
                if_empty,
            } => {
                let path = format!(
                    "/api/queues/{}/{}?if-unused={if_unused}&if-empty={if_empty}",
                    segment(&vhost.vhost),
                    segment(&name)
                );
                ctx.call("DELETE", &path, None)?;
                Ok(ctx.done(format!("deleted queue '{name}' in vhost '{}'", vhost.vhost)))
            }
        },
        AdminCommand::Exchanges(ListOnly::List { vhost }) => ctx.list(
            &vhost_path("/api/exchanges", vhost.as_deref()),
            EXCHANGE_COLS,
        ),
        AdminCommand::Bindings(ListOnly::List { vhost }) => {
            ctx.list(&vhost_path("/api/bindings", vhost.as_deref()), BINDING_COLS)
        }
        AdminCommand::Topics(c) => match c {
            TopicsCmd::List => ctx.list("/api/topics", TOPIC_COLS),
            TopicsCmd::Create {
                name,
                partitions,
                retention_ms,
                retention_bytes,
            } => {
                let path = format!("/api/topics/{}", segment(&name));
                if ctx.get(&path).is_ok() {
                    return Err(AdminError::Refused {
                        status: 409,
                        reason: format!("topic '{name}' already exists"),
                    });
                }
                let mut body = json!({ "partitions": partitions });
                if let Some(ms) = retention_ms {
                    body["retention_ms"] = ms.into();
                }
                if let Some(b) = retention_bytes {
                    body["retention_bytes"] = b.into();
                }
                ctx.call("PUT", &path, Some(&body))?;
                Ok(ctx.done(format!(
                    "created topic '{name}' with {partitions} partition(s)"
                )))
            }
            TopicsCmd::Delete { name } => {
                ctx.call("DELETE", &format!("/api/topics/{}", segment(&name)), None)?;
                Ok(ctx.done(format!("deleted topic '{name}'")))
            }
            TopicsCmd::Describe { name } => {
                let t = ctx.get(&format!("/api/topics/{}", segment(&name)))?;
                Ok(match ctx.format {
                    Format::Json => pretty(&t),
                    Format::Table => {
                        let rows = t.get("partition_details").cloned().unwrap_or(Value::Null);
                        let config = t.get("config").cloned().unwrap_or(Value::Null);
                        format!(
                            "Topic: {name}  Partitions: {}  Config: {config}\n{}",
                            t.get("partitions").unwrap_or(&Value::Null),
                            ctx.show_rows(&rows, PARTITION_COLS)
                        )
                    }
                })
            }
        },
        AdminCommand::Groups(c) => match c {
            GroupsCmd::List => ctx.list("/api/consumer-groups", GROUP_COLS),
            GroupsCmd::Describe { group } => {
                let g = ctx.get(&format!("/api/consumer-groups/{}", segment(&group)))?;
                Ok(group_table(&ctx, &g))
            }
            GroupsCmd::ResetOffsets {
                group,
                topic,
                to_earliest,
                to_latest,
                to_datetime,
            } => {
                let mut body = match (to_earliest, to_latest, to_datetime) {
                    (true, _, _) => json!({ "to": "earliest" }),
                    (_, true, _) => json!({ "to": "latest" }),
                    (_, _, Some(dt)) => json!({
                        "to": "datetime",
                        "timestamp_ms": datetime::parse_ms(&dt).map_err(AdminError::Input)?,
                    }),
                    _ => {
                        return Err(AdminError::Input(
                            "give one of --to-earliest, --to-latest, --to-datetime".into(),
                        ));
                    }
                };
                if let Some(t) = topic {
                    body["topic"] = t.into();
                }
                let path = format!("/api/consumer-groups/{}/reset-offsets", segment(&group));
                let g = ctx.call("POST", &path, Some(&body))?;
                Ok(group_table(&ctx, &g))
            }
        },
        AdminCommand::Connections(c) => match c {
            ConnectionsCmd::List => ctx.list("/api/connections", CONNECTION_COLS),
            ConnectionsCmd::Close { name, reason } => {
                let path = format!("/api/connections/{}", segment(&name));
                let r = ctx.client.request_with_reason(&path, &reason)?;
                if !(200..300).contains(&r.status) {
                    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                    return Err(AdminError::Refused {
                        status: r.status,
                        reason: v
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or("refused")
                            .to_string(),
                    });
                }
                Ok(ctx.done(format!("closed connection '{name}'")))
            }
        },
        AdminCommand::Definitions(c) => match c {
            DefinitionsCmd::Export { file } => {
                let d = ctx.get("/api/definitions")?;
                let text = pretty(&d);
                match file {
                    Some(path) => {
                        write_private(&path, text.as_bytes()).map_err(|e| {
                            AdminError::Input(format!("writing {}: {e}", path.display()))
                        })?;
                        Ok(ctx.done(format!("exported definitions to {}", path.display())))
                    }
                    None => Ok(text),
                }
            }
            DefinitionsCmd::Import { file } => {
                let text = std::fs::read(&file)
                    .map_err(|e| AdminError::Input(format!("reading {}: {e}", file.display())))?;
                let d: Value = serde_json::from_slice(&text).map_err(|e| {
                    AdminError::Input(format!(
                        "{} is not JSON ({e}); nothing was imported",
                        file.display()
                    ))
                })?;
                let r = ctx.call("POST", "/api/definitions", Some(&d))?;
                Ok(match ctx.format {
                    Format::Json => pretty(&r),
                    Format::Table => format!(
                        "imported {}: {}\n",
                        file.display(),
                        r.get("imported").unwrap_or(&Value::Null)
                    ),
                })
            }
        },
        AdminCommand::Alarms(c) => alarms::execute(&ctx, c),
        AdminCommand::Status => {
            let o = ctx.get("/api/overview")?;
            Ok(match ctx.format {
                Format::Json => pretty(&o),
                Format::Table => status_text(&o),
            })
        }
    }
}

/// Definitions carry password hashes: keep the file to its owner.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(data)
}

fn group_table(ctx: &Ctx<'_>, g: &Value) -> String {
    match ctx.format {
        Format::Json => pretty(g),
        Format::Table => {
            let rows = g.get("offsets").cloned().unwrap_or(Value::Null);
            let members = g.get("members").cloned().unwrap_or(Value::Null);
            let mut out = format!(
                "GROUP {}  state {}  total lag {}\n{}",
                g.get("group").and_then(Value::as_str).unwrap_or(""),
                g.get("state").and_then(Value::as_str).unwrap_or(""),
                g.get("lag").unwrap_or(&Value::Null),
                ctx.show_rows(&rows, OFFSET_COLS)
            );
            if members.as_array().is_some_and(|m| !m.is_empty()) {
                out.push('\n');
                out.push_str(&ctx.show_rows(&members, MEMBER_COLS));
            }
            out
        }
    }
}

fn status_text(o: &Value) -> String {
    let field = |path: &[&str]| {
        let mut v = o;
        for p in path {
            v = v.get(p).unwrap_or(&Value::Null);
        }
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    let mut out = format!(
        "{} {} on {}\n",
        field(&["product_name"]),
        field(&["product_version"]),
        field(&["node"])
    );
    for l in o
        .get("listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "  listener {:<6} {}:{}\n",
            l.get("protocol").and_then(Value::as_str).unwrap_or(""),
            l.get("ip_address").and_then(Value::as_str).unwrap_or(""),
            l.get("port").unwrap_or(&Value::Null)
        ));
    }
    out.push_str(&format!(
        "connections {}  queues {}  exchanges {}  consumers {}  topics {}  partitions {}\n",
        field(&["object_totals", "connections"]),
        field(&["object_totals", "queues"]),
        field(&["object_totals", "exchanges"]),
        field(&["object_totals", "consumers"]),
        field(&["object_totals", "topics"]),
        field(&["object_totals", "partitions"]),
    ));
    out.push_str(&format!(
        "messages {} (ready {}, unacked {})  published {}  delivered {}  log records {}\n",
        field(&["queue_totals", "messages"]),
        field(&["queue_totals", "messages_ready"]),
        field(&["queue_totals", "messages_unacknowledged"]),
        field(&["message_stats", "publish"]),
        field(&["message_stats", "deliver_get"]),
        field(&["message_stats", "records_appended"]),
    ));
    let raised = |k: &str| {
        if o.get(k).and_then(Value::as_bool).unwrap_or(false) {
            "RAISED"
        } else {
            "clear"
        }
    };
    out.push_str(&format!(
        "memory alarm {}  disk alarm {}  (details: trident alarms status)\n",
        raised("mem_alarm"),
        raised("disk_free_alarm"),
    ));
    out
}
