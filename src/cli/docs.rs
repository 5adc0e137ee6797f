//! `ctxscope completions SHELL` and `ctxscope man`: shell completions and the man page,
//! generated from the command line's own definitions (so they never go stale).

use super::{Cli, Outcome};
use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut cli = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cli, "ctxscope", &mut out);
    out.flush()?;
    Ok(Outcome::Ok)
}

/// The man page of ctxscope and of each command, in one roff document.
pub fn man() -> Result<Outcome> {
    let cli = Cli::command();
    let mut out = std::io::stdout().lock();
    let mut page = Vec::new();
    clap_mangen::Man::new(cli.clone()).render(&mut page)?;
    for sub in cli.get_subcommands() {
        let name = format!("ctxscope-{}", sub.get_name());
        let sub = sub.clone().bin_name(name.clone()).display_name(name);
        clap_mangen::Man::new(sub).render(&mut page)?;
    }
    out.write_all(&page)?;
    out.flush()?;
    Ok(Outcome::Ok)
}
