//! Locked, atomic record updates. The lock serializes read-modify-write
//! cycles between threads and processes; the atomic rename means a reader
//! (or a crash) only ever sees a whole old or a whole new record.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use chrono::Utc;

use super::{CacheError, RECORD_FILE, Record, SCHEMA_VERSION};

const LOCK_FILE: &str = ".lock";

/// An exclusive lock on one build folder, released when dropped.
pub(super) struct BuildLock {
    file: File,
}

impl BuildLock {
    pub(super) fn acquire(dir: &Path) -> Result<BuildLock, CacheError> {
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(CacheError::io("create the lock file", &path))?;
        // flock: per open file, so threads with their own handle exclude each other too.
        file.lock().map_err(CacheError::io("lock", &path))?;
        Ok(BuildLock { file })
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first is explicit.
        let _ = self.file.unlock();
    }
}

/// An exclusive lock on one stage of one build (its export, one row), so two
/// processes on one cache never export or run the same thing at once: the
/// second waits, then finds the work done. Separate from the record lock,
/// which is taken and released many times while a stage runs.
pub struct StageLock {
    file: File,
}

impl StageLock {
    pub(super) fn acquire(dir: &Path, stage: &str) -> Result<StageLock, CacheError> {
        fs::create_dir_all(dir).map_err(CacheError::io("create the build folder", dir))?;
        let path = dir.join(format!(".lock-{stage}"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(CacheError::io("create the lock file", &path))?;
        file.lock().map_err(CacheError::io("lock", &path))?;
        Ok(StageLock { file })
    }
}

impl Drop for StageLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Read (or start) the record in `dir`, apply `f`, write it back atomically.
pub(super) fn update(
    dir: &Path,
    name: &str,
    f: impl FnOnce(&mut Record),
) -> Result<Record, CacheError> {
    fs::create_dir_all(dir).map_err(CacheError::io("create the build folder", dir))?;
    let _lock = BuildLock::acquire(dir)?;
    let path = dir.join(RECORD_FILE);
    let mut record = if path.exists() {
        Record::load(&path)?
    } else {
        Record::new(name)
    };
    f(&mut record);
    record.schema_version = SCHEMA_VERSION;
    record.updated = Utc::now();
    write_atomic(dir, &path, &record.to_json())?;
    Ok(record)
}

/// Writes `bytes` to a temporary file in `dir`, syncs it, renames it over
/// `path`, and syncs the folder so the rename survives a power loss.
fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::Builder::new()
        .prefix(".record-")
        .suffix(".tmp")
        // 0666 minus the umask, like any file the user writes; tempfile's
        // default 0600 would hide records from others sharing the cache.
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(CacheError::io("create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(CacheError::io("write", tmp.path()))?;
    tmp.persist(path)
        .map_err(|e| CacheError::io("replace", path)(e.error))?;
    // Some file systems refuse to sync a folder; the data itself is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes everything in the build folder but its lock file, under the lock.
pub(super) fn clear(dir: &Path) -> Result<(), CacheError> {
    if !dir.exists() {
        return Ok(());
    }
    let _lock = BuildLock::acquire(dir)?;
    let entries = fs::read_dir(dir).map_err(CacheError::io("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(CacheError::io("list", dir))?;
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(CacheError::io("remove", &path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cache, Status};
    use std::path::Path;
    use std::process::Command;

    const HELPER_ENV: &str = "TURNKEY_TEST_INCREMENT_CACHE";
    const PER_WORKER: u64 = 40;

    fn increment(cache: &Cache, n: u64) {
        for _ in 0..n {
            cache
                .update_record("shared_build", |r| r.identity.executions += 1)
                .unwrap();
        }
    }

    fn executions(dir: &Path) -> u64 {
        let c = Cache::open_existing(dir).unwrap();
        c.load_record("shared_build")
            .unwrap()
            .unwrap()
            .identity
            .executions
    }

    #[test]
    fn concurrent_thread_updates_lose_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| increment(&cache, PER_WORKER));
            }
        });
        assert_eq!(executions(tmp.path()), 4 * PER_WORKER);
        // Only the record and the lock: no temporary files left behind.
        let dir = cache.build_dir("shared_build").unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![".lock", "record.json"]);
    }

    /// Not a test: the body of the other processes in
    /// `concurrent_process_updates_lose_nothing` (does nothing when run alone).
    #[test]
    #[ignore = "helper process for concurrent_process_updates_lose_nothing"]
    fn increment_helper() {
        if let Some(dir) = std::env::var_os(HELPER_ENV) {
            let cache = Cache::open_existing(Path::new(&dir)).unwrap();
            increment(&cache, PER_WORKER);
        }
    }

    #[test]
    fn concurrent_process_updates_lose_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(&exe)
                    .args([
                        "cache::store::tests::increment_helper",
                        "--exact",
                        "--ignored",
                    ])
                    .arg("--test-threads=1")
                    .env(HELPER_ENV, tmp.path())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        increment(&cache, PER_WORKER);
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
        assert_eq!(executions(tmp.path()), 3 * PER_WORKER);
    }

    #[test]
    fn update_creates_then_keeps_created_time() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let first = cache
            .update_record("b", |r| {
                r.finish_stage("discover", Status::Successful, None)
            })
            .unwrap();
        let second = cache
            .update_record("b", |r| r.start_stage("export"))
            .unwrap();
        assert_eq!(first.created, second.created);
        assert!(second.updated >= first.updated);
        assert!(second.stage_succeeded("discover"));
        assert_eq!(second.stage("export").unwrap().status, Status::Running);
    }

    #[test]
    fn corrupt_record_blocks_update_until_cleared() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        cache.update_record("b", |_| {}).unwrap();
        let path = cache.record_path("b").unwrap();
        std::fs::write(&path, "{ not json").unwrap();
        let err = cache.update_record("b", |_| {}).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        // The corrupt file is not overwritten behind the user's back.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
        cache.clear_build("b").unwrap();
        assert!(cache.load_record("b").unwrap().is_none());
        cache.update_record("b", |_| {}).unwrap();
    }

    #[test]
    fn killed_stage_is_persisted_on_next_update() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        cache
            .update_record("b", |r| {
                r.start_stage("export");
                r.stages.get_mut("export").unwrap().pid = Some(4_000_000);
            })
            .unwrap();
        let r = cache.update_record("b", |_| {}).unwrap();
        assert_eq!(r.stage("export").unwrap().status, Status::Killed);
        let raw = std::fs::read_to_string(cache.record_path("b").unwrap()).unwrap();
        assert!(raw.contains("\"killed\""), "{raw}");
    }
}
