//! The ring saved in the node's data directory, so that a restarted node comes back as the
//! member it was (riak keeps it in `data/ring/`).
//!
//! The file holds a magic line, the postcard encoding of the ring and the address book, and a
//! CRC-32 of that encoding. It is replaced atomically (write a temporary file, fsync, rename),
//! so a crash leaves either the old ring or the new one, never half of each.

use crate::net::wire::AddressBook;
use crate::ring::Ring;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"ringcore ring v1\n";
const FILE_NAME: &str = "ring";

#[derive(Serialize, Deserialize)]
struct Saved {
    ring: Ring,
    addresses: AddressBook,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Saves the ring and address book under `data_dir`.
pub(crate) fn save(data_dir: &Path, ring: &Ring, addresses: &AddressBook) -> io::Result<()> {
    fs::create_dir_all(data_dir)?;
    let body = postcard::to_allocvec(&Saved {
        ring: ring.clone(),
        addresses: addresses.clone(),
    })
    .map_err(io::Error::other)?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + body.len() + 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    let temporary = data_dir.join(format!("{FILE_NAME}.tmp"));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path(data_dir))?;
    Ok(())
}

/// Loads the saved ring, if there is one. A damaged file is an error that names it.
pub(crate) fn load(data_dir: &Path) -> io::Result<Option<(Ring, AddressBook)>> {
    let file = path(data_dir);
    let bytes = match fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let damaged = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {why}", file.display()),
        )
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| damaged("not a ring file"))?;
    if rest.len() < 4 {
        return Err(damaged("truncated"));
    }
    let (body, crc) = rest.split_at(rest.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(damaged("checksum mismatch"));
    }
    let saved: Saved = postcard::from_bytes(body).map_err(|e| damaged(&e.to_string()))?;
    Ok(Some((saved.ring, saved.addresses)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_ring_loads_back_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let ring = Ring::new(16, "dev1@127.0.0.1".into()).unwrap();
        save(dir.path(), &ring, &AddressBook::new()).unwrap();
        let (loaded, _) = load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, ring);
        let file = dir.path().join(FILE_NAME);
        let mut bytes = fs::read(&file).unwrap();
        let last = bytes.len() - 6;
        bytes[last] ^= 0xff;
        fs::write(&file, bytes).unwrap();
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.to_string().ends_with("ring: checksum mismatch"),
            "{error}"
        );
    }
}
