//! `hostplane completion bash|zsh|fish`: the shell completion script, generated from the same
//! clap definition the binary parses with (clap_complete), so it never lags a new flag.
//!
//! ```sh
//! source <(hostplane completion bash)                      # bash, this shell
//! hostplane completion zsh > "${fpath[1]}/_hostplane"       # zsh
//! hostplane completion fish > ~/.config/fish/completions/hostplane.fish
//! ```

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to complete for.
    shell: Shell,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(args: Args, command: &mut clap::Command) -> ExitCode {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, command, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}
