//! `cargo run -p ex6-chat-solution`: the finished system. Node dev1 with its console, the
//! stream database over HTTP on 8080 and the chat on 4040 (`nc localhost 4040`);
//! `-- devrel 3` for a 3-node cluster of it.

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex6_chat::ChatApp>()
}
