//! The command line: `kurz serve`, `kurz migrate`, `kurz user add`,
//! `kurz key create`, `kurz shorten`, `kurz review`, `kurz reports`,
//! `kurz scan`, `kurz blocklist import`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use kurz_core::account::{Principal, Role};
use kurz_core::clock::{Clock, SystemClock};
use kurz_core::service::links::MAX_PAGE;
use kurz_core::service::{CreateLink, Created, UpdateLink};
use kurz_store::cache::Caches;
use kurz_store::Database;

use crate::blocklist::feed::{self, FeedFormat};
use crate::config::{Config, Overrides, Switch};
use crate::http::api::rfc3339;
use crate::import::{ImportArgs, SourceKind};
use crate::startup::Services;
use crate::{accounts, startup, telemetry};

/// kurz: a self-hostable short-link service.
///
/// Configuration comes from defaults, then the TOML file of --config, then
/// KURZ_* environment variables, then these flags.
#[derive(Debug, Parser)]
#[command(name = "kurz", version)]
pub struct Cli {
    /// TOML configuration file [env: KURZ_CONFIG]
    #[arg(long, global = true, env = "KURZ_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL, e.g. sqlite://kurz.db [env: KURZ_DATABASE] [default: sqlite://kurz.db]
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// Origin of short URLs [env: KURZ_BASE_URL] [default: http:// and the listen address]
    #[arg(long, global = true)]
    pub base_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Shorten a URL and print the short URL.
    Shorten(ShortenArgs),
    /// Write every user, key and link as JSON lines (to move to another backend).
    Export {
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read an export into this (empty) database; with --from, import the
    /// links of another shortener (Shlink, YOURLS, Kutt, a Bitly or kurz
    /// CSV file) into this one.
    Import(ImportArgs),
    /// Copy a SQLite database while the server runs (MariaDB and
    /// PostgreSQL: use their own dump tools, or export).
    Backup {
        /// The file to write; it must not exist.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Aliases waiting for review (they matched links.review_keywords).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Abuse reports.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Disable every live link whose target host is on the blocklist (as
    /// the server does after each reload) and print how many.
    Scan(ScanArgs),
    /// Blocklist files.
    #[command(subcommand)]
    Blocklist(BlocklistCommand),
    /// Check the configuration, database, migrations, Redis, GeoIP file and
    /// clock, and say what is wrong; exits 1 if anything is. Takes the
    /// flags of serve, to check the configuration serve would run with.
    Doctor(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: KURZ_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long)]
    pub listen: Option<String>,
    /// Read replica URL, repeatable [env: KURZ_DATABASE_REPLICAS, comma-separated]
    #[arg(long = "database-replica")]
    pub database_replicas: Vec<String>,
    /// Redis URL [env: KURZ_REDIS]
    #[arg(long)]
    pub redis: Option<String>,
    /// Proxies whose X-Forwarded-For / Forwarded names the client: CIDRs or
    /// addresses, comma-separated or repeated [env: KURZ_TRUSTED_PROXIES]
    #[arg(long = "trusted-proxies", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// A MaxMind-format country database (.mmdb) for the clicks' countries
    /// [env: KURZ_GEOIP_DB]
    #[arg(long = "geoip-db")]
    pub geoip_db: Option<PathBuf>,
    /// File of blocked domains (one a line, or hosts format), reloaded on
    /// SIGHUP and when it changes [env: KURZ_BLOCKLIST]
    #[arg(long)]
    pub blocklist: Option<PathBuf>,
    /// Serve /metrics on this address instead of the main listener, e.g.
    /// 127.0.0.1:9464 [env: KURZ_METRICS_LISTEN]
    #[arg(long = "metrics-listen")]
    pub metrics_listen: Option<String>,
    /// Export traces over OTLP/HTTP to this collector, e.g.
    /// http://127.0.0.1:4318 [env: KURZ_OTLP_ENDPOINT]
    #[arg(long = "otlp-endpoint")]
    pub otlp_endpoint: Option<String>,
    /// Rate limits on or off [env: KURZ_RATE_LIMITS] [default: on]
    #[arg(long, value_enum)]
    pub rate_limits: Option<Switch>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// File of blocked domains, merged with links.blocked_domains
    /// [env: KURZ_BLOCKLIST]
    #[arg(long)]
    pub blocklist: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BlocklistCommand {
    /// Read a threat feed and print its hosts, one a line, or merge them
    /// into a blocklist file. URLs on shared hosts (docs.google.com,
    /// github.io, bit.ly, ...) are skipped and counted.
    Import {
        /// The feed's format.
        #[arg(long, value_enum)]
        format: FeedFormat,
        /// Merge into this blocklist file (sorted, without duplicates,
        /// replaced atomically) instead of printing.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The feed; `-` reads standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from standard input when it is not
    /// a terminal, otherwise asked for.
    Add {
        name: String,
        #[arg(long, value_parser = ["admin", "user"], default_value = "user")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it (it is shown only once).
    Create {
        /// The user the key acts for.
        #[arg(long)]
        user: String,
        /// The key may read but not change anything.
        #[arg(long)]
        read_only: bool,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Print only the key, on one line.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List the links waiting for review, newest first: slug, target,
    /// created, owner (tab-separated).
    List,
    /// Approve an alias: the link starts redirecting.
    Approve { slug: String },
    /// Reject an alias: the link is deleted, its slug never given out again.
    Reject { slug: String },
}

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// List reports, newest first: id, slug, reason, status, created,
    /// resolution, details (tab-separated).
    List {
        #[arg(long, value_parser = ["open", "resolved"], default_value = "open")]
        status: String,
    },
    /// Resolve a report: disable its link for abuse (on every running node)
    /// or dismiss it.
    Resolve {
        id: i64,
        #[arg(long, value_parser = ["disable", "dismiss"])]
        action: String,
    },
}

#[derive(Debug, Args)]
pub struct ShortenArgs {
    /// The URL to shorten.
    pub url: String,
    /// A custom alias.
    #[arg(long)]
    pub alias: Option<String>,
    /// The user who will own the link (default: none; admins manage it).
    #[arg(long)]
    pub user: Option<String>,
}

impl Cli {
    fn config(&self) -> anyhow::Result<Config> {
        let serve = match &self.command {
            Command::Serve(s) | Command::Doctor(s) => Some(s),
            _ => None,
        };
        let overrides = Overrides {
            listen: serve.and_then(|s| s.listen.clone()),
            database: self.database.clone(),
            database_replicas: serve
                .map(|s| s.database_replicas.clone())
                .filter(|r| !r.is_empty()),
            redis: serve.and_then(|s| s.redis.clone()),
            trusted_proxies: serve
                .map(|s| s.trusted_proxies.clone())
                .filter(|t| !t.is_empty()),
            geoip_db: serve.and_then(|s| s.geoip_db.clone()),
            blocklist: match &self.command {
                Command::Serve(s) | Command::Doctor(s) => s.blocklist.clone(),
                Command::Scan(s) => s.blocklist.clone(),
                _ => None,
            },
            metrics_listen: serve.and_then(|s| s.metrics_listen.clone()),
            otlp_endpoint: serve.and_then(|s| s.otlp_endpoint.clone()),
            base_url: self.base_url.clone(),
            rate_limits: serve.and_then(|s| s.rate_limits),
        };
        Ok(Config::load(self.config.as_deref(), &overrides)?)
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Doctor(_) = &cli.command {
        return diagnose(&cli).await;
    }
    let config = cli.config()?;
    // Only the server exports spans; commands log.
    let otlp = match &cli.command {
        Command::Serve(_) => config.otlp_endpoint.as_deref(),
        _ => None,
    };
    let _spans = telemetry::init(config.log_format, otlp)?;
    match cli.command {
        Command::Serve(_) => serve(config).await,
        Command::Migrate => {
            let db = startup::open_store(&config, Arc::new(SystemClock)).await?;
            db.close().await;
            eprintln!(
                "migrations applied to {}",
                startup::redacted(&config.database)
            );
            Ok(())
        }
        Command::User(UserCommand::Add { name, role }) => add_user(&config, &name, &role).await,
        Command::Key(KeyCommand::Create {
            user,
            read_only,
            name,
            quiet,
        }) => create_key(&config, &user, read_only, name, quiet).await,
        Command::Shorten(args) => shorten(&config, args).await,
        Command::Export { output } => export(&config, output).await,
        Command::Import(args) => match args.from {
            Some(kind) => import_from(&config, kind, &args).await,
            None => import(&config, args.input).await,
        },
        Command::Backup { output } => backup(&config, &output).await,
        Command::Review(command) => review(&config, command).await,
        Command::Reports(command) => reports(&config, command).await,
        Command::Scan(_) => scan(&config).await,
        Command::Blocklist(BlocklistCommand::Import {
            format,
            output,
            file,
        }) => import_feed(format, &file, output.as_deref()),
        Command::Doctor(_) => diagnose(&cli).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = startup::build(config).await?;
    tracing::info!(
        address = %app.local_addr()?,
        base_url = app.base_url(),
        "kurz is listening"
    );
    app.run_until(startup::shutdown_signal()).await
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the passwords do not match");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// The origin of short URLs the CLI prints: as the server would say it.
fn cli_base_url(config: &Config) -> String {
    let bound = config
        .listen
        .parse()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
    startup::base_url(config, bound)
}

/// How long a command keeps telling Redis of its changes before it gives
/// up.
const CLI_REDELIVERY: Duration = Duration::from_secs(3);

/// The store and the caches one command writes through.
struct Session {
    db: Database,
    caches: Caches,
}

impl Session {
    /// Lets the invalidations under way finish (telling Redis again, for
    /// a few seconds, what it missed), then closes the store.
    async fn close(self) {
        self.caches.settle().await;
        if let Some(redis) = self.caches.redis() {
            let missed = redis.deliver_pending(CLI_REDELIVERY).await;
            if missed > 0 {
                eprintln!(
                    "warning: Redis was not told of {missed} change(s); running servers \
                     learn of them when their cache entries expire"
                );
            }
        }
        self.db.close().await;
    }
}

/// The store and the use cases over it, for one command.
async fn open(config: &Config) -> anyhow::Result<(Session, Services)> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = startup::open_store(config, clock.clone()).await?;
    let base = cli_base_url(config);
    // No in-process cache for one command, but the servers' caches are
    // told (through Redis, when configured) of what it changes.
    let mut writes_only = config.clone();
    writes_only.cache.l1_max_entries = 0;
    let caches = startup::caches(&writes_only, &db)?;
    if let Some(redis) = caches.redis() {
        if !redis.connect().await {
            eprintln!(
                "warning: Redis does not answer; running servers learn of this change \
                 when their cache entries expire"
            );
        }
    }
    let services = startup::services(config, &db, &caches, clock, &base);
    Ok((Session { db, caches }, services))
}

async fn add_user(config: &Config, name: &str, role: &str) -> anyhow::Result<()> {
    let role = Role::parse(role).context("the role is admin or user")?;
    let password = read_password()?;
    let (session, services) = open(config).await?;
    let user = services.accounts.create_user(name, password, role).await;
    session.close().await;
    let user = user?;
    eprintln!("created {} user {}", user.role.as_str(), user.username);
    Ok(())
}

async fn create_key(
    config: &Config,
    username: &str,
    read_only: bool,
    name: Option<String>,
    quiet: bool,
) -> anyhow::Result<()> {
    let (session, services) = open(config).await?;
    let result = async {
        let user = services
            .accounts
            .user_by_name(username)
            .await?
            .with_context(|| format!("there is no user {username}"))?;
        let (key, secret) =
            accounts::create_key(&services.accounts, user.id, name, read_only).await?;
        anyhow::Ok((user, key, secret))
    }
    .await;
    session.close().await;
    let (user, key, secret) = result?;
    if quiet {
        println!("{secret}");
    } else {
        let kind = if key.read_only {
            "read-only key"
        } else {
            "key"
        };
        println!("{secret}");
        eprintln!(
            "{kind} {} for {}; store it now, it is not shown again",
            key.id, user.username
        );
    }
    Ok(())
}

async fn shorten(config: &Config, args: ShortenArgs) -> anyhow::Result<()> {
    let (session, services) = open(config).await?;
    let result = async {
        let owner = match &args.user {
            Some(name) => {
                let user = services
                    .accounts
                    .user_by_name(name)
                    .await?
                    .with_context(|| format!("there is no user {name}"))?;
                Some(Principal {
                    user_id: user.id,
                    username: user.username,
                    role: user.role,
                    key_id: 0,
                    read_only: false,
                })
            }
            None => None,
        };
        let request = CreateLink {
            url: args.url,
            alias: args.alias,
            ..CreateLink::default()
        };
        let link = match services.links.create(owner.as_ref(), request).await? {
            Created::New(l) | Created::Existing(l) => l,
        };
        anyhow::Ok(link.slug)
    }
    .await;
    session.close().await;
    println!("{}/{}", cli_base_url(config), result?);
    Ok(())
}

/// `kurz review ...`: as an admin would through the API.
async fn review(config: &Config, command: ReviewCommand) -> anyhow::Result<()> {
    let (session, services) = open(config).await?;
    let operator = Principal::operator();
    let links = &services.links;
    let result = async {
        match command {
            ReviewCommand::List => {
                let mut after = None;
                loop {
                    let page = links.review_queue(&operator, Some(MAX_PAGE), after).await?;
                    for l in &page.items {
                        println!(
                            "{}\t{}\t{}\t{}",
                            l.slug,
                            l.url,
                            rfc3339(l.created_at),
                            l.owner.as_deref().unwrap_or("-")
                        );
                    }
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
            }
            ReviewCommand::Approve { slug } => {
                let change = UpdateLink {
                    approved: Some(true),
                    ..UpdateLink::default()
                };
                links.update(&operator, &slug, change).await?;
                eprintln!("approved {slug}");
            }
            ReviewCommand::Reject { slug } => {
                let link = links.get(&operator, &slug).await?;
                if !link.pending {
                    bail!("{slug} is not waiting for review (delete it through the API)");
                }
                links.delete(&operator, &slug).await?;
                eprintln!("rejected {slug}: deleted");
            }
        }
        anyhow::Ok(())
    }
    .await;
    session.close().await;
    result
}

/// `kurz reports ...`: as an admin would through the API.
async fn reports(config: &Config, command: ReportsCommand) -> anyhow::Result<()> {
    let (session, services) = open(config).await?;
    let operator = Principal::operator();
    let reports = &services.reports;
    let result = async {
        match command {
            ReportsCommand::List { status } => {
                let mut after = None;
                loop {
                    let page = reports
                        .list(&operator, Some(&status), Some(MAX_PAGE), after)
                        .await?;
                    for r in &page.items {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{:?}",
                            r.id,
                            r.slug,
                            r.reason.as_str(),
                            r.status.as_str(),
                            rfc3339(r.created_at),
                            r.resolution.map_or("-", |x| x.as_str()),
                            r.details.as_deref().unwrap_or_default()
                        );
                    }
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
            }
            ReportsCommand::Resolve { id, action } => {
                let report = reports.resolve(&operator, id, &action).await?;
                eprintln!("report {id} about {} resolved: {action}", report.slug);
            }
        }
        anyhow::Ok(())
    }
    .await;
    session.close().await;
    result
}

async fn export(config: &Config, output: Option<PathBuf>) -> anyhow::Result<()> {
    let db = startup::open_store(config, Arc::new(SystemClock)).await?;
    let mut out: Box<dyn std::io::Write + Send> = match &output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let stats = db.export(&mut out).await;
    db.close().await;
    eprintln!("exported {}", stats?);
    Ok(())
}

async fn import(config: &Config, input: Option<PathBuf>) -> anyhow::Result<()> {
    let db = startup::open_store(config, Arc::new(SystemClock)).await?;
    let mut reader: Box<dyn BufRead + Send> = match &input {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let stats = db.import(&mut reader).await;
    db.close().await;
    eprintln!("imported {}", stats?);
    Ok(())
}

/// `kurz import --from`: another shortener's links, through the link
/// rules and the blocklist `kurz serve` would apply.
async fn import_from(config: &Config, kind: SourceKind, args: &ImportArgs) -> anyhow::Result<()> {
    let list = crate::blocklist::load(&config.blocked_domains(), config.blocklist.as_deref())?;
    let (session, services) = open(config).await?;
    services.blocklist.replace(list);
    let result = async {
        let owner = match &args.user {
            Some(name) => Some(principal(&services, name).await?),
            None => None,
        };
        crate::import::run(&services.links, owner.as_ref(), kind, args).await
    }
    .await;
    session.close().await;
    print!("{}", result?);
    Ok(())
}

/// A user as the owner of what a command creates.
async fn principal(services: &Services, name: &str) -> anyhow::Result<Principal> {
    let user = services
        .accounts
        .user_by_name(name)
        .await?
        .with_context(|| format!("there is no user {name}"))?;
    Ok(Principal {
        user_id: user.id,
        username: user.username,
        role: user.role,
        key_id: 0,
        read_only: false,
    })
}

async fn backup(config: &Config, output: &std::path::Path) -> anyhow::Result<()> {
    use kurz_store::DbKind;
    let options = config.db_options();
    let name = startup::redacted(&options.url);
    match DbKind::from_url(&options.url)? {
        DbKind::Sqlite => {}
        DbKind::MySql => bail!(
            "kurz backup copies SQLite databases only. Back up MariaDB / MySQL with its own \
             tool, which copies without stopping kurz: \
             `mariadb-dump --single-transaction DATABASE > FILE`; or write a copy any kurz \
             backend can read with `kurz export --output FILE`"
        ),
        DbKind::Postgres => bail!(
            "kurz backup copies SQLite databases only. Back up PostgreSQL with its own tool, \
             which copies without stopping kurz: `pg_dump --format=custom --file=FILE URL`; \
             or write a copy any kurz backend can read with `kurz export --output FILE`"
        ),
    }
    let Some(file) = options.sqlite_file()? else {
        bail!("{name} is an in-memory database: there is no file to back up");
    };
    // Opening the store would create an empty database there.
    if !file.exists() {
        bail!(
            "there is no database at {}: nothing to back up",
            file.display()
        );
    }
    let db = kurz_store::open(&options, Arc::new(SystemClock))?;
    let outcome = db.backup(output).await;
    db.close().await;
    let outcome = outcome.with_context(|| format!("backing up {name}"))?;
    println!(
        "wrote {} ({}), a copy of {}",
        outcome.path.display(),
        human_size(outcome.bytes),
        file.display()
    );
    Ok(())
}

/// `kurz scan`: one rescan with the list `kurz serve` would load.
async fn scan(config: &Config) -> anyhow::Result<()> {
    let list = crate::blocklist::load(&config.blocked_domains(), config.blocklist.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (session, _) = open(config).await?;
    let rescanner = startup::rescanner(&session.db, &session.caches, clock);
    let outcome = rescanner.run(&list).await;
    session.close().await;
    let outcome = outcome.context("scanning the links")?;
    println!(
        "disabled {} of {} links ({} blocklist entries)",
        outcome.disabled,
        outcome.scanned,
        list.len()
    );
    Ok(())
}

/// `kurz blocklist import`: a feed's hosts to standard output, or merged
/// into a blocklist file.
fn import_feed(
    format: FeedFormat,
    file: &std::path::Path,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use std::io::Read;
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the feed from standard input")?;
    } else {
        std::fs::File::open(file)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("reading the feed {}", file.display()))?;
    }
    let imported = feed::read(format, &text)?;
    let skipped: usize = imported.shared.values().sum();
    if skipped > 0 {
        let hosts: Vec<String> = imported
            .shared
            .iter()
            .map(|(host, n)| format!("{host} ({n})"))
            .collect();
        eprintln!(
            "skipped {skipped} URL(s) on shared hosts, never blocked whole: {}",
            hosts.join(", ")
        );
    }
    if imported.unreadable > 0 {
        eprintln!(
            "skipped {} record(s) without a usable URL or domain",
            imported.unreadable
        );
    }
    match output {
        Some(path) => {
            let added = crate::blocklist::file::merge_into(path, &imported.list)?;
            eprintln!(
                "{} entries read, {added} new in {}",
                imported.list.len(),
                path.display()
            );
        }
        None => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for entry in imported.list.entries() {
                writeln!(out, "{entry}").context("writing to standard output")?;
            }
            out.flush().context("writing to standard output")?;
            eprintln!("{} entries", imported.list.len());
        }
    }
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if size < 1024.0 {
            break;
        }
        size /= 1024.0;
        unit = next;
    }
    if unit == "bytes" {
        format!("{bytes} bytes")
    } else {
        format!("{size:.1} {unit}, {bytes} bytes")
    }
}

/// Runs the checks of [`crate::doctor`] on the configuration
/// `kurz serve` would load, reporting one that does not load rather than
/// failing on it.
async fn diagnose(cli: &Cli) -> anyhow::Result<()> {
    let config = cli.config().map_err(|e| {
        let text = e.to_string();
        text.strip_prefix("invalid configuration: ")
            .map_or(text.clone(), str::to_owned)
    });
    let mut report = crate::doctor::Report::new(std::io::stdout());
    crate::doctor::examine(config, &mut report).await;
    if report.problems > 0 {
        bail!(
            "kurz doctor found {} problem(s) (the FAIL lines) and {} warning(s)",
            report.problems,
            report.warnings
        );
    }
    println!("no problems found ({} warning(s))", report.warnings);
    Ok(())
}
