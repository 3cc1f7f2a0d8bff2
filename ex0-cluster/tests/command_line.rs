//! The command line of this exercise's binary, as a user meets it: help and version under
//! the binary's own name, help per subcommand, suggestions for typos, `--flag=value`, the
//! `RING_…` environment variables standing for options, and the cluster's cookie.

use assert_cmd::Command;
use ringcore::testing::{NodeProcess, poll_until};
use std::path::Path;
use std::time::Duration;

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));
const NAME: &str = env!("CARGO_PKG_NAME");

/// The binary, without the `RING_…` variables of the shell running the tests.
fn binary() -> Command {
    let mut command = Command::new(BINARY);
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("RING_") {
            command.env_remove(variable);
        }
    }
    command.timeout(std::time::Duration::from_secs(60));
    command
}

/// Runs the binary with `args`: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let output = binary().args(args).output().expect("the binary runs");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8(output.stdout).expect("UTF-8"),
        String::from_utf8(output.stderr).expect("UTF-8"),
    )
}

const SUBCOMMANDS: [&str; 7] = [
    "console", "start", "attach", "ping", "stop", "admin", "devrel",
];

#[test]
fn help_lists_the_subcommands_under_the_binary_name() {
    for flag in ["--help", "-h"] {
        let (code, help, _) = run(&[flag]);
        assert_eq!(code, 0, "{flag} succeeds");
        assert!(
            help.contains(&format!("Usage: {NAME} [OPTIONS]")),
            "{flag} names the binary:\n{help}"
        );
        for subcommand in SUBCOMMANDS {
            assert!(
                help.contains(&format!("\n  {subcommand} ")),
                "{flag} lists {subcommand}:\n{help}"
            );
        }
        assert!(
            help.contains("--node <devK>"),
            "{flag} lists the options:\n{help}"
        );
        assert!(
            help.contains("RING_NODE"),
            "{flag} names the variables:\n{help}"
        );
    }
}

#[test]
fn every_subcommand_has_its_help() {
    for subcommand in SUBCOMMANDS {
        let (code, help, _) = run(&["help", subcommand]);
        assert_eq!(code, 0);
        assert!(
            help.contains(&format!("Usage: {NAME} {subcommand} ")),
            "help {subcommand}:\n{help}"
        );
        let (code, same, _) = run(&[subcommand, "--help"]);
        assert_eq!((code, same), (0, help), "{subcommand} --help");
    }
}

#[test]
fn version_names_the_binary() {
    let (code, version, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(version, format!("{NAME} {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn admin_help_lists_the_admin_commands() {
    let (code, help, _) = run(&["admin", "--help"]);
    assert_eq!(code, 0);
    for (usage, what) in ringcore::node::admin::COMMANDS {
        assert!(
            help.contains(usage) && help.contains(what),
            "admin --help lists '{usage}':\n{help}"
        );
    }
}

#[test]
fn admin_alone_shows_what_it_can_run() {
    let (code, out, help) = run(&["admin"]);
    assert_eq!(code, 2, "admin needs a command");
    assert_eq!(out, "");
    assert!(help.contains(&format!("Usage: {NAME} admin")), "{help}");
    assert!(help.contains("cluster join NODE"), "{help}");
    assert!(!help.contains("cannot understand"), "{help}");
}

#[test]
fn a_typo_gets_a_suggestion() {
    let (code, _, error) = run(&["strat"]);
    assert_eq!(code, 2);
    assert!(
        error.contains("unrecognized subcommand 'strat'")
            && error.contains("a similar subcommand exists: 'start'"),
        "{error}"
    );
    let (code, _, error) = run(&["ping", "--nod", "dev2"]);
    assert_eq!(code, 2);
    assert!(
        error.contains("a similar argument exists: '--node'"),
        "{error}"
    );
}

#[test]
fn bad_values_say_what_is_wrong() {
    for (args, expected) in [
        (&["ping", "--node", "bob"][..], "a node is dev1 … dev99"),
        (
            &["start", "--ring-size", "48"][..],
            "ring size 48 is not a power of two between 8 and 1024",
        ),
        (&["devrel", "10"][..], "10 is not in 1..=9"),
    ] {
        let (code, _, error) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(error.contains(expected), "{args:?}: {error}");
    }
}

/// A node started with `--flag=value` options, its data directory from `RING_DATA_DIR` (and
/// so its cookie file there); then tools that find it through `RING_NODE`,
/// `RING_CLUSTER_PORT` and `RING_COOKIE_FILE` alone.
#[test]
fn flags_take_an_equals_sign_and_variables_stand_for_flags() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("from-the-variable");
    let mut start = std::process::Command::new(BINARY);
    start
        .args([
            "start",
            "--node=dev2",
            "--cluster-port=0",
            "--http-port=0",
            "--ring-size=16",
        ])
        .env("RING_DATA_DIR", &dir)
        .env_remove("RING_NODE")
        .stderr(std::process::Stdio::null());
    let node = NodeProcess::spawn(start);
    assert!(
        dir.join("ring").is_file(),
        "the node keeps its ring in RING_DATA_DIR"
    );
    let cookie = dir.join("cookie");
    assert!(cookie.is_file(), "and its cookie");
    let port = node.port().to_string();

    let output = binary()
        .arg("ping")
        .env("RING_NODE", "dev2")
        .env("RING_CLUSTER_PORT", &port)
        .env("RING_COOKIE_FILE", &cookie)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "pong\n");
    let output = binary()
        .args(["admin", "ring-status"])
        .env("RING_CLUSTER_PORT", &port)
        .env("RING_COOKIE_FILE", &cookie)
        .output()
        .unwrap();
    assert!(output.status.success(), "admin reaches the node");

    let mut node = node;
    let output = binary()
        .args(["stop", "--node", "dev2", "--cluster-port", &port])
        .env("RING_COOKIE_FILE", &cookie)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ok\n",
        "the node stops on request"
    );
    ringcore::testing::poll_until(
        "the node exits after 'stop'",
        Duration::from_secs(30),
        || ringcore::testing::exited(&mut node.child),
    );
    // Nobody answers there now: the message names the node the tool looked for, from the
    // variable, or from the flag, which wins over the variable.
    let not_responding = |args: &[&str]| {
        let output = binary()
            .args(args)
            .env("RING_NODE", "dev4")
            .env("RING_CLUSTER_PORT", &port)
            .env("RING_COOKIE_FILE", &cookie)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(
        not_responding(&["ping"]),
        "Node 'dev4@127.0.0.1' not responding to pings.\n"
    );
    assert_eq!(
        not_responding(&["ping", "--node", "dev3"]),
        "Node 'dev3@127.0.0.1' not responding to pings.\n"
    );
}

/// The binary run in `dir`, as from a terminal open there.
fn binary_in(dir: &Path) -> Command {
    let mut command = binary();
    command.current_dir(dir);
    command
}

/// `start --node devK --cluster-port 0 --http-port 0` run in `dir`, as in a terminal open
/// there: its data and its cookie where the binary puts them by default. Its log goes to
/// `dir/devK.log`.
fn start_in(dir: &Path, k: u32) -> NodeProcess {
    let log = std::fs::File::create(dir.join(format!("dev{k}.log"))).unwrap();
    let mut command = std::process::Command::new(BINARY);
    command
        .args(["start", "--node", &format!("dev{k}"), "--cluster-port", "0"])
        .args(["--http-port", "0"])
        .current_dir(dir)
        .stderr(log);
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("RING_") {
            command.env_remove(variable);
        }
    }
    NodeProcess::spawn(command)
}

/// The cookie as a user meets it. Two nodes started in two terminals in one folder share the
/// cookie the first made (`data/<exercise>/cookie`, readable by its owner only), and `admin`
/// run there finds it without being told: dev2 joins dev1. A tool given another cookie is
/// refused (exit 1, the reason on stderr) and the node logs it; a tool run where there is no
/// cookie says where it looked; `--help` never shows the secret of `RING_COOKIE`.
#[test]
fn nodes_and_tools_in_one_folder_share_the_cookie_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dev1 = start_in(dir.path(), 1);
    let dev2 = start_in(dir.path(), 2);
    let file = dir.path().join("data/ex0-cluster/cookie");
    let secret = std::fs::read_to_string(&file).expect("the first node made the cookie");
    assert_eq!(secret.trim().len(), 64, "{secret:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let (p1, p2) = (dev1.port().to_string(), dev2.port().to_string());

    let join = format!("dev1@127.0.0.1:{p1}");
    let output = binary_in(dir.path())
        .args(["admin", "--node", "dev2", "--cluster-port", &p2])
        .args(["cluster", "join", &join])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Success: staged join request for 'dev2@127.0.0.1' to 'dev1@127.0.0.1'\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = binary_in(dir.path())
        .args([
            "admin",
            "member-status",
            "--cluster-port",
            &p1,
            "--cookie",
            "wrong",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "Node 'dev1@127.0.0.1' at 127.0.0.1:{p1} does not share the cookie given (--cookie \
             or RING_COOKIE): pass the cluster's cookie with --cookie or --cookie-file.\n"
        )
    );
    let log = dir.path().join("dev1.log");
    let refused = poll_until("dev1 logs the refusal", Duration::from_secs(30), || {
        let log = std::fs::read_to_string(&log).unwrap();
        log.lines()
            .find(|line| line.contains("refusing connection"))
            .map(str::to_string)
            .ok_or(log)
    });
    assert!(
        refused.contains(" WARN refusing connection from 127.0.0.1:")
            && refused.ends_with(" (a command-line tool): wrong cookie"),
        "{refused}"
    );

    // Where no node ever ran, there is no cookie to find.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = binary_in(elsewhere.path())
        .args(["ping", "--cluster-port", &p1])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: no cookie in data/ex0-cluster/cookie: a node makes it when it first starts; \
         start one, or pass the cluster's cookie with --cookie or --cookie-file\n"
    );
    assert!(
        !elsewhere.path().join("data").exists(),
        "a tool makes no cookie"
    );

    let output = binary()
        .args(["start", "--help"])
        .env("RING_COOKIE", "topsecret")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("--cookie <SECRET>") && help.contains("RING_COOKIE"),
        "{help}"
    );
    assert!(!help.contains("topsecret"), "{help}");
}

/// `start --config FILE --print-config` with `env` in the environment: what it prints.
fn print_config(file: &Path, env: &[(&str, &str)], flags: &[&str]) -> (i32, String, String) {
    let mut command = binary();
    command.args([
        "start",
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]);
    command.args(flags).envs(env.iter().copied());
    let output = command.output().expect("the binary runs");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8(output.stdout).expect("UTF-8"),
        String::from_utf8(output.stderr).expect("UTF-8"),
    )
}

#[test]
fn settings_come_from_flags_then_variables_then_the_file_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ring.toml");
    std::fs::write(
        &file,
        "name = \"ring@127.0.0.5\"\nhttp_port = 9001\nchat-port = 9101\nmax_connections = 5\n\
         cookie_file = \"/etc/ring/cookie\"\n",
    )
    .unwrap();
    let (code, settings, _) = print_config(&file, &[], &[]);
    assert_eq!(code, 0);
    for line in [
        "name = \"ring@127.0.0.5\"",
        "bind = \"127.0.0.5\"",
        "cluster_port = 10017",
        "http_port = 9001",
        "chat_port = 9101",
        "max_connections = 5",
        "cookie_file = \"/etc/ring/cookie\"",
        "max_in_flight = 64",
    ] {
        assert!(
            settings.lines().any(|l| l == line),
            "no '{line}' in:\n{settings}"
        );
    }
    // The environment wins over the file, and a flag over both.
    let (_, settings, _) = print_config(&file, &[("RING_HTTP_PORT", "9002")], &[]);
    assert!(settings.contains("http_port = 9002\n"), "{settings}");
    let flag = ["--http-port", "9003"];
    let (_, settings, _) = print_config(&file, &[("RING_HTTP_PORT", "9002")], &flag);
    assert!(settings.contains("http_port = 9003\n"), "{settings}");

    // What it prints starts a node the same way.
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &settings).unwrap();
    let (code, again, errors) = print_config(&printed, &[], &[]);
    assert_eq!((code, again.as_str()), (0, settings.as_str()), "{errors}");

    // A setting no command has is refused, naming the file.
    std::fs::write(&file, "htp_port = 9001\n").unwrap();
    let (code, _, errors) = print_config(&file, &[], &[]);
    assert_eq!(code, 2);
    assert!(
        errors.contains("ring.toml: unknown setting 'htp_port'"),
        "{errors}"
    );
}
