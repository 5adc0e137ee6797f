//! The command line: subcommands, shared options, exit codes.
//!
//! Exit codes scripts can rely on: 0 success; 1 a finding at or above `--fail-on` (or a `check`
//! difference); 2 unreadable input or bad arguments, with a one-line message.

mod check;
mod docs;
mod follow;
mod generate;
mod live;
mod monitor;
mod report;
mod tui;

use crate::config::{Config, lines_joined};
use anyhow::Result;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ctxscope_dissectors::{Proto, Registry, Severity};
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "ctxscope",
    version,
    about = "Passive traffic analyzer for Citrix farms: FlexLM licensing, ICA, CGP/session reliability, IMA",
    after_help = "Exit codes: 0 success, 1 findings at or above --fail-on (or check differences), 2 unreadable input or bad arguments."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse capture files (or a live interface) and print a report.
    Report(report::ReportArgs),
    /// Sensor mode: stream records as things happen (NDJSON or ECS) and serve metrics, from
    /// files or a live interface (with --workers N, as report).
    Monitor(monitor::MonitorArgs),
    /// Write the reassembled bytes of one flow, like `tshark -q -z follow,tcp,raw`.
    Follow(follow::FollowArgs),
    /// Browse a capture file or a live interface in a terminal UI (with --workers N, as
    /// report).
    Tui(tui::TuiArgs),
    /// Run every capture in DIR against its expected result (regression); --bless updates them.
    Check(check::CheckArgs),
    /// Write the sample captures (deterministic; the repository's captures/ are made this way).
    Generate(generate::GenerateArgs),
    /// List the interfaces live capture can use.
    Interfaces,
    /// Print shell completions: `ctxscope completions bash > /etc/bash_completion.d/ctxscope`.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff): `ctxscope man > ctxscope.1`.
    Man,
}

/// `--workers`, of the commands that can shard the analysis (`report`, `tui`, `monitor`).
#[derive(Args, Debug)]
pub struct WorkersArgs {
    /// Flow-sharded workers, for capture files and live capture (1 to 8; default: the number
    /// of cores, at most 8): one thread reads and spreads the connections over N analysing
    /// threads by their pair of IP addresses, each with its share of the memory budget; 1
    /// analyses on one engine, on the capture thread or beside the file's reader. The output is
    /// the same for any N unless a cap is hit (README, "Workers").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=crate::run::MAX_WORKERS as i64))]
    workers: Option<u16>,
}

impl WorkersArgs {
    /// The workers asked for, or the default.
    pub fn count(&self) -> usize {
        self.workers
            .map_or_else(crate::run::default_workers, usize::from)
    }
}

/// What the commands that analyse traffic on flow-sharded workers (`report`, `tui`, `monitor`)
/// take after their own arguments: `--workers` and the settings.
#[derive(Args, Debug)]
pub struct AnalysisArgs {
    #[command(flatten)]
    pub workers: WorkersArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl AnalysisArgs {
    /// The configuration (see [`ConfigArgs::load`]) and the number of workers.
    pub fn load(&self, registry: &Registry) -> Result<(Config, usize)> {
        Ok((self.config.load(registry)?, self.workers.count()))
    }
}

/// Settings shared by every command that analyses traffic.
#[derive(Args, Debug, Default, Clone)]
pub struct ConfigArgs {
    /// TOML configuration file (defaults suit a standard Citrix farm).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override any setting, e.g. `--set limits.max_flows=50000` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Decode PORT as PROTO, on the transport PROTO runs over (repeatable; `udp/PORT` or
    /// `tcp/PORT` says it; the help lists the protocols).
    #[arg(long, value_name = "PORT=PROTO")]
    pub decode_as: Vec<String>,
    /// Static vendor-daemon port; replaces the default 7279 (repeatable).
    #[arg(long, value_name = "PORT")]
    pub vendor_port: Vec<u16>,
    /// Known license server address; FlexLM traffic to others is a finding (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub license_server: Vec<IpAddr>,
    /// Silence allowed on a vendor-daemon connection before its heartbeat cadence is learned
    /// (sets licensing.heartbeat_ceiling_secs).
    #[arg(long, value_name = "SECS")]
    pub heartbeat_ceiling: Option<f64>,
    /// Removed: cadences are learned from the traffic (refused with an explanation).
    #[arg(long, value_name = "SECS", hide = true)]
    pub heartbeat_idle: Option<f64>,
}

impl ConfigArgs {
    /// The configuration: file, then the dedicated flags, then `--set`, in that order.
    /// `registry` is the protocols it may name.
    pub fn load(&self, registry: &Registry) -> Result<Config> {
        let mut overrides = Vec::new();
        for d in &self.decode_as {
            let (port, proto) = d
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--decode-as {d:?}: expected PORT=PROTO"))?;
            overrides.push(format!(
                "ports.decode_as.{}=\"{}\"",
                port.trim(),
                proto.trim()
            ));
        }
        if !self.vendor_port.is_empty() {
            let list: Vec<String> = self.vendor_port.iter().map(u16::to_string).collect();
            let key = Proto::VENDOR_DAEMON.name();
            overrides.push(format!("ports.{key}=[{}]", list.join(",")));
        }
        if !self.license_server.is_empty() {
            let list: Vec<String> = self
                .license_server
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect();
            overrides.push(format!("licensing.license_servers=[{}]", list.join(",")));
        }
        if self.heartbeat_idle.is_some() {
            anyhow::bail!(
                "--heartbeat-idle was removed: heartbeat cadences are now learned from the traffic, with no idle threshold; --heartbeat-ceiling SECS sets the silence allowed on a vendor-daemon connection before its cadence is learned (default 750)"
            );
        }
        if let Some(secs) = self.heartbeat_ceiling {
            overrides.push(format!("licensing.heartbeat_ceiling_secs={secs}"));
        }
        overrides.extend(self.set.iter().cloned());
        Config::load_with(registry.clone(), self.config.as_deref(), &overrides)
    }
}

/// The id of `--decode-as` (its field name), whose help is written from the registry.
const DECODE_AS: &str = "decode_as";

/// The command line, with the protocols of `registry` in the help of `--decode-as`: listed by
/// `-h`, described by `--help`.
fn command(registry: &Registry) -> clap::Command {
    let help = format!(
        "Decode PORT as PROTO: {} (repeatable; PORT is on PROTO's transport, udp/PORT or tcp/PORT to say it)",
        registry.names().join(", ")
    );
    let long_help = registry.iter().fold(format!("{help}."), |text, p| {
        let spec = p.spec();
        format!(
            "{text}\n- {} ({}): {}",
            p.name(),
            spec.transport.name().to_uppercase(),
            spec.description
        )
    });
    let cli = Cli::command();
    let with_decode_as: Vec<String> = cli
        .get_subcommands()
        .filter(|c| c.get_arguments().any(|a| a.get_id() == DECODE_AS))
        .map(|c| c.get_name().to_string())
        .collect();
    with_decode_as.into_iter().fold(cli, |cli, name| {
        cli.mut_subcommand(name, |c| {
            c.mut_arg(DECODE_AS, |a| {
                a.help(help.clone()).long_help(long_help.clone())
            })
        })
    })
}

/// Exit status of a run that completed.
pub enum Outcome {
    Ok,
    /// Findings at or above `--fail-on`, or `check` differences.
    Flagged,
}

/// Parses `args` (the program name first) and runs the command. Help and version go to standard
/// output with exit 0; every error that exits 2 is one line on standard error:
/// `ctxscope: MESSAGE (see ctxscope COMMAND --help)`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    main_with(&Registry::builtin(), args)
}

/// [`main`] for a program that knows the protocols of `registry`.
pub fn main_with(registry: &Registry, args: Vec<OsString>) -> ExitCode {
    let parsed = command(registry)
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    match parsed {
        Ok(cli) => run(cli, registry),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                // Nothing more to do if standard output is closed.
                let _ = e.print();
                ExitCode::SUCCESS
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => bad_usage(
                "no command given (report, monitor, follow, tui, check, generate, interfaces, completions or man)",
                None,
            ),
            _ => bad_usage(&clap_message(&e), command_in(&args)),
        },
    }
}

/// Prints a usage or input error on one line; exit status 2.
fn bad_usage(message: &str, command: Option<&str>) -> ExitCode {
    let command = command.map_or(String::new(), |c| format!("{c} "));
    eprintln!("ctxscope: {message} (see ctxscope {command}--help)");
    ExitCode::from(2)
}

/// clap's message without its usage and "For more information" parts, on one line: the
/// paragraphs joined by "; ", their lines by spaces.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    text.split("\n\n")
        .map(|paragraph| lines_joined(paragraph, " "))
        .filter(|p| !p.is_empty() && !p.starts_with("Usage:") && !p.starts_with("For more"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The subcommand named on the command line, if any (it comes first: there are no options
/// before it).
fn command_in(args: &[OsString]) -> Option<&str> {
    let given = args.get(1)?.to_str()?;
    Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == given)
        .then_some(given)
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Report(_) => "report",
            Command::Monitor(_) => "monitor",
            Command::Follow(_) => "follow",
            Command::Tui(_) => "tui",
            Command::Check(_) => "check",
            Command::Generate(_) => "generate",
            Command::Interfaces => "interfaces",
            Command::Completions(_) => "completions",
            Command::Man => "man",
        }
    }
}

pub fn run(cli: Cli, registry: &Registry) -> ExitCode {
    let name = cli.command.name();
    let result = match cli.command {
        Command::Report(args) => report::run(&args, registry),
        Command::Monitor(args) => monitor::run(&args, registry),
        Command::Follow(args) => follow::run(&args, registry),
        Command::Check(args) => check::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Tui(args) => tui::run(&args, registry),
        Command::Interfaces => interfaces(),
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Flagged) => ExitCode::from(1),
        Err(e) => bad_usage(&one_line(&e), Some(name)),
    }
}

/// An error and its causes on one line (a cause spanning lines has them joined by spaces).
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| lines_joined(&cause.to_string(), " "))
        .collect::<Vec<_>>()
        .join(": ")
}

fn interfaces() -> Result<Outcome> {
    for (name, desc) in crate::capture::interfaces()? {
        match desc {
            Some(d) => println!("{name}\t{d}"),
            None => println!("{name}"),
        }
    }
    Ok(Outcome::Ok)
}

/// Parses `--fail-on` values.
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::from_name(s)
        .ok_or_else(|| format!("{s:?} is not a severity (info, low, medium, high)"))
}
