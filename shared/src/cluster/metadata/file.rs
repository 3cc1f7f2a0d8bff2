//! The cluster metadata saved in the node's data directory, `metadata.json`, so that a
//! restarted node answers as it did before (riak keeps it in `data/cluster_meta/`).
//!
//! The file is JSON, readable by people: a format line and every entry, tombstones included.
//! It is replaced atomically, as the ring file is (write a temporary file, fsync, rename, and
//! fsync the directory so that the rename itself survives a power cut): a crash leaves either
//! the old map or the new one. A file that cannot be read is an error that names it: a node
//! that started empty instead would say that no user exists and no grant was given until an
//! exchange brought them back (and a node alone in its cluster, never).

use crate::cluster::metadata::table::{Stored, Table};
use crate::net::wire::{MetadataEntry, MetadataVersion};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "metadata.json";
const FORMAT: &str = "ringcore cluster metadata v1";

#[derive(Serialize, Deserialize)]
struct Saved {
    format: String,
    entries: Vec<SavedEntry>,
}

/// One entry as the file holds it: the value as JSON itself rather than as text, and a
/// tombstone marked `"deleted": true` (a value may well be JSON `null`).
#[derive(Serialize, Deserialize)]
struct SavedEntry {
    prefix: String,
    key: String,
    version: MetadataVersion,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    value: Value,
}

/// Where the map of the node whose data directory is `data_dir` is saved.
pub(crate) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Saves the whole map under `data_dir`. An error names the file.
pub(crate) fn save(data_dir: &Path, table: &Table) -> io::Result<()> {
    let file = path(data_dir);
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", file.display()));
    let saved = Saved {
        format: FORMAT.to_string(),
        entries: table
            .iter()
            .map(|(prefix, key, stored)| SavedEntry {
                prefix: prefix.clone(),
                key: key.clone(),
                version: stored.version.clone(),
                deleted: stored.value.is_none(),
                value: stored.value.clone().unwrap_or(Value::Null),
            })
            .collect(),
    };
    let bytes = serde_json::to_vec_pretty(&saved).map_err(io::Error::other)?;
    fs::create_dir_all(data_dir).map_err(named)?;
    let temporary = data_dir.join(format!("{FILE_NAME}.tmp"));
    let mut out = fs::File::create(&temporary).map_err(named)?;
    out.write_all(&bytes).map_err(named)?;
    out.sync_all().map_err(named)?;
    fs::rename(&temporary, &file).map_err(named)?;
    #[cfg(unix)]
    fs::File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(named)?;
    Ok(())
}

/// Loads the saved map, if there is one. A damaged file is an error that names it.
pub(crate) fn load(data_dir: &Path) -> io::Result<Option<Table>> {
    let file = path(data_dir);
    let bytes = match fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", file.display()))),
    };
    let damaged = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {why}", file.display()),
        )
    };
    let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| damaged(&e.to_string()))?;
    if saved.format != FORMAT {
        return Err(damaged(&format!(
            "not a cluster metadata file (format {:?}, expected {FORMAT:?})",
            saved.format
        )));
    }
    let mut table = Table::default();
    for entry in saved.entries {
        let wire = MetadataEntry {
            prefix: entry.prefix,
            key: entry.key,
            version: entry.version,
            value: (!entry.deleted).then(|| entry.value.to_string()),
        };
        let (prefix, key, stored) = Stored::from_wire(wire).map_err(|why| damaged(&why))?;
        table.merge(prefix, key, stored);
    }
    Ok(Some(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::NodeName;

    fn put(table: &mut Table, key: &str, time_ms: u64, value: Option<&str>) {
        let entry = MetadataEntry {
            prefix: "users".into(),
            key: key.into(),
            version: MetadataVersion {
                time_ms,
                node: NodeName::new("dev1@127.0.0.1"),
                counter: time_ms,
            },
            value: value.map(str::to_string),
        };
        let (prefix, key, stored) = Stored::from_wire(entry).unwrap();
        table.merge(prefix, key, stored);
    }

    #[test]
    fn a_saved_map_loads_back_tombstones_and_nulls_included() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let mut table = Table::default();
        put(
            &mut table,
            "alice",
            1,
            Some(r#"{"roles":["admin"],"since":2024}"#),
        );
        put(&mut table, "bob", 2, None);
        put(&mut table, "carol", 3, Some("null"));
        save(dir.path(), &table).unwrap();
        let loaded = load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, table);
        assert_eq!(loaded.get("users", "bob").unwrap().value, None);
        assert_eq!(
            loaded.get("users", "carol").unwrap().value,
            Some(Value::Null)
        );
        // Saved again over the first file: the new map replaces it.
        put(&mut table, "alice", 4, None);
        save(dir.path(), &table).unwrap();
        assert_eq!(load(dir.path()).unwrap().unwrap(), table);
        assert!(!dir.path().join("metadata.json.tmp").exists());
    }

    #[test]
    fn a_damaged_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = Table::default();
        put(&mut table, "alice", 1, Some("true"));
        save(dir.path(), &table).unwrap();
        let file = path(dir.path());
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        let error = load(dir.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: ", file.display())),
            "{error}"
        );
        fs::write(&file, r#"{"format":"something else","entries":[]}"#).unwrap();
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.to_string().contains("not a cluster metadata file"),
            "{error}"
        );
    }
}
