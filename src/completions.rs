//! `connect-attrs completions SHELL` and `connect-attrs man [SUBCOMMAND]`: generated from the clap
//! definition, so they can never disagree with the flags.

use crate::cli::Cli;
use clap::CommandFactory;
use std::io::{self, Write};

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "connect-attrs", out);
}

/// Writes connect-attrs(1), or connect-attrs-SUBCOMMAND(1) with that subcommand's options, in roff.
pub fn man(subcommand: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let mut command = Cli::command();
    command.build();
    let page = match subcommand.and_then(|name| command.find_subcommand(name)) {
        Some(sub) => {
            let name = format!("connect-attrs-{}", sub.get_name());
            let bin = format!("connect-attrs {}", sub.get_name());
            sub.clone().name(name).bin_name(bin)
        }
        None => command,
    };
    clap_mangen::Man::new(page).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn every_shell_gets_a_script_that_knows_the_commands() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let script = text(|out| completions(shell, out));
            assert!(script.contains("run") && script.contains("validate"), "{shell}: {script}");
            assert!(script.contains("metrics-file"), "{shell}");
        }
    }

    #[test]
    fn the_man_pages_are_roff_and_cover_the_subcommands() {
        let page = text(|out| man(None, out).expect("render"));
        assert!(page.contains(".TH connect-attrs 1"), "{page}");
        assert!(page.contains("run") && page.contains("validate"), "{page}");
        let run = text(|out| man(Some("run"), out).expect("render"));
        assert!(run.contains(".TH connect-attrs-run 1"), "{run}");
        assert!(run.contains("metrics\\-file") && run.contains("sanitize\\-keys"), "{run}");
    }
}
