//! The admin subcommands and their options (clap). They talk to a running broker over
//! its management API; see `trident <command> --help`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// Where the broker is and who is asking; flags win over the environment.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Management API of the broker.
    #[arg(
        long = "url",
        global = true,
        env = "TRIDENT_ADMIN_URL",
        default_value = "http://127.0.0.1:15672"
    )]
    pub admin_url: String,
    /// User to authenticate as (needs a management tag).
    // Ids prefixed `admin_`: a subcommand's positional `user` must not be this.
    #[arg(
        long = "user",
        global = true,
        env = "TRIDENT_ADMIN_USER",
        default_value = "guest"
    )]
    pub admin_user: String,
    /// Password of --user.
    #[arg(
        long = "pass",
        global = true,
        env = "TRIDENT_ADMIN_PASS",
        default_value = "guest",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub admin_pass: String,
    /// Output: aligned tables for people, JSON for scripts.
    #[arg(long = "format", global = true, value_enum, default_value_t = Format::Table)]
    pub admin_format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users: add, delete, list, passwd, tag.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Virtual hosts: add, delete, list.
    #[command(subcommand)]
    Vhosts(VhostsCmd),
    /// Per-vhost permissions (configure, write, read patterns).
    #[command(subcommand)]
    Permissions(PermissionsCmd),
    /// Queues: list, purge, delete.
    #[command(subcommand)]
    Queues(QueuesCmd),
    /// Exchanges: list.
    #[command(subcommand)]
    Exchanges(ListOnly),
    /// Bindings: list.
    #[command(subcommand)]
    Bindings(ListOnly),
    /// Topics (partitioned logs): list, create, delete, describe.
    #[command(subcommand)]
    Topics(TopicsCmd),
    /// Consumer groups: list, describe, reset-offsets.
    #[command(subcommand)]
    Groups(GroupsCmd),
    /// Client connections: list, close.
    #[command(subcommand)]
    Connections(ConnectionsCmd),
    /// Definitions: export to a file, import from one (all or nothing).
    #[command(subcommand)]
    Definitions(DefinitionsCmd),
    /// The broker's overview: version, listeners, object and message totals.
    Status,
    /// Resource alarms: status, and the memory watermark and free-disk limit, changed
    /// at run time (rabbitmqctl set_vm_memory_high_watermark / set_disk_free_limit).
    #[command(subcommand)]
    Alarms(AlarmsCmd),
}

#[derive(Debug, Subcommand)]
pub enum AlarmsCmd {
    /// Memory used and its watermark, free disk and its limit, and which alarm is up.
    Status,
    /// Set the memory high watermark until the broker stops: a fraction of the memory
    /// with a decimal point (0.4, 1.0) or an amount (1073741824, 1GB, 512MiB); 0 turns
    /// the memory alarm off. Takes effect at once.
    SetMemoryWatermark {
        #[arg(value_name = "FRACTION|BYTES")]
        value: String,
    },
    /// Set the free-disk limit until the broker stops: an amount (2000000000, 2GB,
    /// 50MiB; 0 turns the disk alarm off), or with --mem-relative a multiple of the
    /// memory (1.5). Takes effect at once.
    SetDiskLimit {
        #[arg(value_name = "BYTES|MULTIPLE")]
        value: String,
        /// VALUE is a multiple of the memory (RabbitMQ's mem_relative).
        #[arg(long)]
        mem_relative: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct VhostArg {
    /// Virtual host.
    #[arg(long, short = 'p', default_value = "/")]
    pub vhost: String,
}

#[derive(Debug, Clone, Args)]
pub struct PasswordArg {
    /// The password; without it, it is read from the first line of standard input
    /// (keeps it out of the shell history and the process list).
    #[arg(long)]
    pub password: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Create a user (refused if it exists).
    Add {
        name: String,
        #[command(flatten)]
        password: PasswordArg,
        /// Tags: administrator, monitoring, management (comma separated).
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
    },
    Delete {
        name: String,
    },
    List,
    /// Change a user's password.
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Replace a user's tags (none given: no tags), as rabbitmqctl set_user_tags.
    Tag {
        name: String,
        tags: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VhostsCmd {
    Add { name: String },
    Delete { name: String },
    List,
}

#[derive(Debug, Subcommand)]
pub enum PermissionsCmd {
    /// Set a user's configure, write and read patterns in a vhost (rabbitmqctl
    /// set_permissions); logs (Kafka topics) follow the patterns of vhost `/`.
    Set {
        user: String,
        configure: String,
        write: String,
        read: String,
        #[command(flatten)]
        vhost: VhostArg,
    },
    Clear {
        user: String,
        #[command(flatten)]
        vhost: VhostArg,
    },
    List {
        /// Only this vhost.
        #[arg(long, short = 'p')]
        vhost: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueuesCmd {
    List {
        /// Only this vhost (all visible ones otherwise).
        #[arg(long, short = 'p')]
        vhost: Option<String>,
    },
    Purge {
        name: String,
        #[command(flatten)]
        vhost: VhostArg,
    },
    Delete {
        name: String,
        #[command(flatten)]
        vhost: VhostArg,
        /// Only if it has no consumers.
        #[arg(long)]
        if_unused: bool,
        /// Only if it holds no messages.
        #[arg(long)]
        if_empty: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ListOnly {
    List {
        #[arg(long, short = 'p')]
        vhost: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TopicsCmd {
    List,
    Create {
        name: String,
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Retention by time (-1: forever); the broker's default otherwise.
        #[arg(long, allow_hyphen_values = true)]
        retention_ms: Option<i64>,
        /// Retention by size per partition (-1: unlimited).
        #[arg(long, allow_hyphen_values = true)]
        retention_bytes: Option<i64>,
    },
    Delete {
        name: String,
    },
    /// Partitions with start and end offsets and bytes.
    Describe {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupsCmd {
    List,
    /// Committed offsets, end offsets and lag per partition.
    Describe {
        group: String,
    },
    /// Move a group's committed offsets (kafka-consumer-groups --reset-offsets
    /// --execute); refused while the group has members, as Kafka does.
    #[command(group = clap::ArgGroup::new("to").required(true).multiple(false))]
    ResetOffsets {
        group: String,
        /// Only this topic's partitions.
        #[arg(long)]
        topic: Option<String>,
        #[arg(long, group = "to")]
        to_earliest: bool,
        #[arg(long, group = "to")]
        to_latest: bool,
        /// YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM] (UTC without a zone).
        #[arg(long, group = "to", value_name = "DATETIME")]
        to_datetime: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCmd {
    List,
    /// Close a connection (by the NAME `connections list` shows).
    Close {
        name: String,
        /// Told to the client (AMQP connection.close text).
        #[arg(long, default_value = "Closed via management API")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DefinitionsCmd {
    /// Write every user, vhost, permission, exchange, queue, binding and topic as JSON
    /// (to standard output without FILE).
    Export { file: Option<PathBuf> },
    /// Apply a definitions file: validated whole first, nothing applied on an error.
    Import { file: PathBuf },
}
