//! `kurz import`'s arguments, and the run with a progress bar.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use kurz_core::account::Principal;
use kurz_core::service::LinkService;

use super::fetch::Fetcher;
use super::kutt::Kutt;
use super::report::Report;
use super::settle::Settler;
use super::shlink::Shlink;
use super::table::{Dialect, Table};
use super::yourls::{Credentials, Yourls};
use super::{Entry, Source};

/// `kurz import`: kurz's own export, or with `--from` another shortener's
/// links.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// kurz's own JSON-lines export (from `kurz export`), read into an
    /// empty database (default: standard input). Not with --from.
    #[arg(long, short, conflicts_with = "from")]
    pub input: Option<PathBuf>,
    /// Import links from another shortener: shlink, yourls, kutt (their
    /// HTTP APIs, with --url), bitly-csv or csv (a FILE).
    #[arg(long, value_enum)]
    pub from: Option<SourceKind>,
    /// The CSV file of --from bitly-csv and --from csv.
    #[arg(requires = "from")]
    pub file: Option<PathBuf>,
    /// The source server's address, e.g. `https://s.example.com` (YOURLS:
    /// its folder, or its yourls-api.php).
    #[arg(long, requires = "from")]
    pub url: Option<String>,
    /// Shlink's or Kutt's API key [env: KURZ_IMPORT_API_KEY]
    #[arg(long, env = "KURZ_IMPORT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// YOURLS's signature token [env: KURZ_IMPORT_SIGNATURE]
    #[arg(long, env = "KURZ_IMPORT_SIGNATURE", hide_env_values = true)]
    pub signature: Option<String>,
    /// YOURLS user, with --password instead of a signature.
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// YOURLS password [env: KURZ_IMPORT_PASSWORD]
    #[arg(long, env = "KURZ_IMPORT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Owner of the imported links (default: none; admins manage them).
    #[arg(long, requires = "from")]
    pub user: Option<String>,
    /// A slug kurz cannot hold (characters, length, reserved or blocked
    /// word): skip the link, or give it a slug derived from the source's.
    #[arg(long, value_enum, default_value = "refuse")]
    pub on_invalid_slug: SlugPolicy,
    /// A slug held here by a link to another target (or by a deleted
    /// link): skip the link, or give it a slug derived from the source's.
    #[arg(long, value_enum, default_value = "refuse")]
    pub on_taken_slug: SlugPolicy,
    /// Seconds one request to the source may take, connecting included.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    Shlink,
    Yourls,
    Kutt,
    BitlyCsv,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlugPolicy {
    Refuse,
    Rename,
}

fn required<'a>(
    value: &'a Option<String>,
    what: &str,
    kind: SourceKind,
) -> anyhow::Result<&'a str> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => bail!(
            "--from {} needs {what}",
            kind.to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned())
        ),
    }
}

fn source(kind: SourceKind, args: &ImportArgs) -> anyhow::Result<Box<dyn Source>> {
    let fetcher = || Fetcher::new(Duration::from_secs(args.timeout));
    let file = || {
        args.file
            .as_deref()
            .with_context(|| "this source is a CSV file: give its path after the options")
    };
    Ok(match kind {
        SourceKind::Shlink => Box::new(Shlink::new(
            fetcher()?,
            required(&args.url, "--url", kind)?,
            required(&args.api_key, "--api-key", kind)?.to_owned(),
        )?),
        SourceKind::Kutt => Box::new(Kutt::new(
            fetcher()?,
            required(&args.url, "--url", kind)?,
            required(&args.api_key, "--api-key", kind)?.to_owned(),
        )?),
        SourceKind::Yourls => {
            let credentials = match (&args.signature, &args.username, &args.password) {
                (Some(s), None, _) => Credentials::Signature(s.clone()),
                (None, Some(u), Some(p)) => Credentials::Password {
                    username: u.clone(),
                    password: p.clone(),
                },
                _ => bail!("--from yourls needs --signature, or --username and --password"),
            };
            Box::new(Yourls::new(
                fetcher()?,
                required(&args.url, "--url", kind)?,
                credentials,
            )?)
        }
        SourceKind::BitlyCsv => Box::new(Table::open(file()?, Dialect::Bitly)?),
        SourceKind::Csv => Box::new(Table::open(file()?, Dialect::Kurz)?),
    })
}

/// Imports every link of the source `args` names through `links`, and
/// prints the report. `owner` is looked up by the caller.
pub async fn run(
    links: &LinkService,
    owner: Option<&Principal>,
    kind: SourceKind,
    args: &ImportArgs,
) -> anyhow::Result<Report> {
    let mut source = source(kind, args)?;
    let settler = Settler {
        links,
        owner,
        on_invalid: args.on_invalid_slug,
        on_taken: args.on_taken_slug,
    };
    // Drawn only when standard error is a terminal.
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut report = Report::default();
    let outcome = async {
        while let Some(batch) = source.next_batch().await? {
            if let Some(total) = source.total() {
                bar.set_length(total);
            }
            for entry in batch {
                match entry {
                    Entry::Link(link) => match link.refuse {
                        Some(reason) => report.skip(reason, format!("{:?}", link.link.slug)),
                        None => settler.settle(link.link, &mut report).await?,
                    },
                    Entry::Unreadable { key, reason } => {
                        report.skip("unreadable record", format!("{key}: {reason}"));
                    }
                }
                bar.inc(1);
            }
            bar.set_message(report.summary());
        }
        anyhow::Ok(())
    }
    .await;
    bar.finish_and_clear();
    for note in source.notes() {
        report.note(note);
    }
    match outcome {
        Ok(()) => Ok(report),
        Err(e) => {
            // What came over stays; say so before the error.
            print!("{report}");
            Err(e.context(format!(
                "the import stopped after {} link(s); running it again goes on where it \
                 stopped (what is here is recognised)",
                report.imported + report.already_present + report.skipped()
            )))
        }
    }
}
