//! What an application (an exercise) gives the runtime: how to start on a node and which
//! console commands it answers.

use crate::error::Error;
use crate::node::Node;
use std::future::Future;

/// One console command of an application, with its one line of help.
#[derive(Clone, Copy, Debug)]
pub struct CommandHelp {
    /// The command and its arguments, e.g. `add A B`.
    pub usage: &'static str,
    /// What it does, in one line.
    pub help: &'static str,
}

impl CommandHelp {
    /// The command word alone, e.g. `add`.
    pub fn name(&self) -> &'static str {
        self.usage.split_whitespace().next().unwrap_or("")
    }

    /// `commands` and then `more`, as a constant table: for an application that offers the
    /// commands of another module and one of its own. `N` is `commands.len() + 1`:
    ///
    /// ```ignore
    /// const COMMANDS: [CommandHelp; console::COMMANDS.len() + 1] =
    ///     CommandHelp::and(console::COMMANDS, REPAIR);
    /// ```
    pub const fn and<const N: usize>(commands: &[CommandHelp], more: CommandHelp) -> [Self; N] {
        assert!(
            N == commands.len() + 1,
            "N is the number of commands, plus one"
        );
        let mut all = [more; N];
        // A loop rather than a slice copy: this runs at compile time.
        let mut i = 0;
        while i < commands.len() {
            all[i] = commands[i];
            i += 1;
        }
        all
    }
}

/// An application running on every node of the cluster.
pub trait App: Clone + Send + Sync + 'static {
    /// The console commands, in the order `help` lists them.
    const COMMANDS: &'static [CommandHelp];

    /// Starts the application on a node: registers its vnode types, starts its servers.
    fn start(node: &Node) -> impl Future<Output = Result<Self, Error>> + Send;

    /// Runs one of [`App::COMMANDS`] with its arguments and returns what to print.
    fn run(
        &self,
        command: &str,
        args: &[&str],
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// Where the application serves its clients, e.g. `[("http", …), ("chat", …)]`: printed
    /// when a node starts, so that people and tools know where to connect. An application
    /// with no `http` here still has one in that line: the node then serves its own pages
    /// (the ring page, `/metrics`, `/ready`) on the HTTP port itself (see `ops::cli`).
    fn endpoints(&self) -> Vec<(&'static str, std::net::SocketAddr)> {
        Vec::new()
    }

    /// The error for a command called with the wrong arguments: `usage: add A B`.
    fn usage(command: &str) -> Error {
        match Self::COMMANDS.iter().find(|c| c.name() == command) {
            Some(help) => Error::bad_request(format!("usage: {}", help.usage)),
            None => Error::bad_request(format!("unknown command '{command}'")),
        }
    }
}
