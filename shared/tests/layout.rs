//! The runtime's layout holds: each room (a folder of `src`, or a file on its own) uses only
//! rooms of its own layer or of the layers below it, as the `# Layout` section of `lib.rs`
//! lists them, and no two rooms use each other, even through others. A module that reached up
//! (the vnode machinery naming `Node`, handoff formatting admin tables …) fails here, with the
//! line that does it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first, and the rooms in each (`lib.rs` says the same in words).
const LAYERS: &[&[&str]] = &[
    &["ring"],
    &["error", "clock", "logs", "holes", "lifecycle", "metrics"],
    &["store"],
    &["net"],
    &["cluster"],
    &["access"],
    &["vnode"],
    &["handoff"],
    &["node"],
    &["app", "streams", "http", "chat"],
    &["ops"],
    &["testing"],
];

fn layer_of(room: &str) -> usize {
    LAYERS
        .iter()
        .position(|rooms| rooms.contains(&room))
        .unwrap_or_else(|| panic!("room `{room}` is in no layer: add it to LAYERS and to lib.rs"))
}

/// Every source file under `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The room of a file: its folder under `src`, or its own name for a file of `src`.
fn room_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_string()
}

/// The code of a line, without its comment (doc comments and their links included).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// The rooms a line of code names through `crate::`, alone or in a `crate::{a, b::c}` group.
fn rooms_named(code: &str) -> Vec<String> {
    let mut rooms = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap()
                .split(',')
                .map(str::trim)
                .collect(),
            None => vec![rest],
        };
        for name in names {
            let room: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::Node` and the like: the crate root's re-exports, named by their rooms.
            if !room.is_empty() && room.chars().next().unwrap().is_lowercase() {
                rooms.push(room);
            }
        }
    }
    rooms
}

#[test]
fn no_room_uses_a_room_of_a_layer_above_or_one_that_uses_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut reaching_up = Vec::new();
    // room → the rooms it uses, with one place that shows it.
    let mut uses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in &files {
        if file == &src.join("lib.rs") {
            continue; // the crate root declares every room and re-exports from them
        }
        let room = room_of(&src, file);
        let text = fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for used in rooms_named(code(line)) {
                if used == room {
                    continue;
                }
                let place = format!(
                    "{}:{}: {}",
                    file.strip_prefix(&src).unwrap().display(),
                    number + 1,
                    line.trim()
                );
                if layer_of(&used) > layer_of(&room) {
                    reaching_up.push(format!("{room} uses {used}, a layer above: {place}"));
                }
                uses.entry(room.clone())
                    .or_default()
                    .entry(used)
                    .or_insert(place);
            }
        }
    }
    assert!(
        reaching_up.is_empty(),
        "modules that reach up:\n{}",
        reaching_up.join("\n")
    );
    // No cycle between rooms, not even between rooms of one layer.
    for start in uses.keys() {
        let mut seen = BTreeSet::new();
        let mut path = vec![start.clone()];
        assert!(
            !cycle_from(start, start, &uses, &mut seen, &mut path),
            "rooms use each other: {}\n{}",
            path.join(" → "),
            path.windows(2)
                .map(|pair| uses[&pair[0]][&pair[1]].clone())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Whether a path of uses leads from `at` back to `start`; `path` is left holding it.
fn cycle_from(
    start: &str,
    at: &str,
    uses: &BTreeMap<String, BTreeMap<String, String>>,
    seen: &mut BTreeSet<String>,
    path: &mut Vec<String>,
) -> bool {
    for next in uses.get(at).map(|m| m.keys()).into_iter().flatten() {
        path.push(next.clone());
        if next == start {
            return true;
        }
        if seen.insert(next.clone()) && cycle_from(start, next, uses, seen, path) {
            return true;
        }
        path.pop();
    }
    false
}

#[test]
fn the_rooms_are_read_from_use_lines_and_paths() {
    assert_eq!(rooms_named("use crate::ring::hash::KeyHash;"), ["ring"]);
    assert_eq!(
        rooms_named("use crate::{cluster, handoff::Manager, Node};"),
        ["cluster", "handoff"]
    );
    assert_eq!(
        rooms_named("let x = crate::clock::now_ms() + crate::vnode::f();"),
        ["clock", "vnode"]
    );
    assert_eq!(code("use a; // see crate::node"), "use a; ");
    assert!(rooms_named(code("/// [`crate::node::Node`]")).is_empty());
}
