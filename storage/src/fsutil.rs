//! Small file-system helpers shared by the log, the queue store and checkpoints.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::error::{Result, StorageError};

/// Makes the creation, rename or removal of entries in `dir` durable. Without it a
/// power loss can undo a rename or resurrect a deleted file even though the file's own
/// data was fsynced.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// Replaces `path` with `data` atomically and durably: after return, a crash leaves
/// either the old or the new contents, never a mix, and the new contents survive power
/// loss. (Write temp, fsync, rename, fsync directory.)
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| StorageError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| StorageError::io(path, e))?;
    sync_dir(dir)
}

/// Takes an exclusive advisory lock on `dir/.lock` so that two handles (or two
/// processes) never write the same files. The lock goes away with the returned file,
/// including when the process is killed.
pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(fs::TryLockError::WouldBlock) => Err(StorageError::Locked { path }),
        Err(fs::TryLockError::Error(e)) => Err(StorageError::io(&path, e)),
    }
}

/// Reads exactly `buf.len()` bytes at `pos`.
pub(crate) fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], pos: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, pos).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            StorageError::corrupt(path, pos, "file shorter than expected")
        } else {
            StorageError::io(path, e)
        }
    })
}

/// Creates `dir` and any missing ancestors, fsyncing the parent of each directory it
/// creates so that the new entries survive power loss.
pub(crate) fn create_dir_durable(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d);
        cur = d.parent();
    }
    fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent()
            && !parent.as_os_str().is_empty()
        {
            sync_dir(parent)?;
        }
    }
    Ok(())
}
