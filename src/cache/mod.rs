//! The cache: a folder of builds, each with its record, ONNX file, inputs and
//! logs. A folder is only written into (or deleted from) when it holds the
//! `.turnkeycache` marker, so `-d ~/Documents` can never damage a user's files.
//!
//! ```text
//! <cache>/
//!   .turnkeycache
//!   builds/<build>/record.json   (+ .lock, model.onnx, inputs/, log/)
//! ```

pub mod admin;
pub mod generation;
pub mod record;
mod store;
pub mod system;
pub mod variant;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use admin::{AdminError, BuildSummary, Freed};
pub use record::{
    CheckStatus, Identity, OutputCheck, Record, RuntimeRow, SCHEMA_VERSION, StageRecord, Status,
    TensorSpec,
};
pub use system::SystemInfo;

/// The marker file that makes a folder a turnkey cache.
pub const MARKER: &str = ".turnkeycache";
/// The environment variable naming the default cache folder.
pub const CACHE_DIR_ENV: &str = "TURNKEY_CACHE_DIR";
/// The record's file name inside a build folder.
pub const RECORD_FILE: &str = "record.json";

const MARKER_TEXT: &str = "This folder is a turnkey cache.\n\
turnkey only writes into or deletes from folders that hold this file.\n";

#[derive(Debug, Error)]
pub enum CacheError {
    #[error(
        "{} is not a turnkey cache (no {MARKER} marker): pass an empty or new folder with -d",
        dir.display()
    )]
    NotACache { dir: PathBuf },

    #[error("{} does not exist: pass the folder of an existing turnkey cache with -d", dir.display())]
    Missing { dir: PathBuf },

    #[error("{} is a file, not a folder: pass a folder with -d", path.display())]
    NotADirectory { path: PathBuf },

    #[error(
        "the cache folder {} is not writable ({source}): pass a writable folder with -d or set {CACHE_DIR_ENV}",
        dir.display()
    )]
    ReadOnly { dir: PathBuf, source: io::Error },

    #[error(
        "cannot find a user cache folder (no home directory): pass -d DIR or set {CACHE_DIR_ENV}"
    )]
    NoDefaultDir,

    #[error(
        "invalid build name '{name}': a build name is one folder name (no '/', no leading '.')"
    )]
    BadBuildName { name: String },

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error(
        "corrupt build record {}: {message}: delete that build's folder or re-run with --rebuild",
        path.display()
    )]
    CorruptRecord { path: PathBuf, message: String },

    #[error(
        "{} was written by a newer turnkey (schema {version} > {SCHEMA_VERSION}): upgrade turnkey",
        path.display()
    )]
    NewerSchema { path: PathBuf, version: u32 },
}

impl CacheError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CacheError {
        let path = path.to_path_buf();
        move |source| CacheError::Io {
            action,
            path,
            source,
        }
    }
}

/// An opened cache folder.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens the cache for writing: `dir` (from `-d`), else `$TURNKEY_CACHE_DIR`,
    /// else the user cache folder. A missing or empty folder is created and
    /// marked; a non-empty folder without the marker is refused untouched.
    pub fn open(dir: Option<&Path>) -> Result<Cache, CacheError> {
        let dir = resolve_dir(dir, std::env::var_os(CACHE_DIR_ENV), default_dir)?;
        prepare(&dir)?;
        Ok(Cache { dir })
    }

    /// Opens an existing cache for reading (`turnkey report`): the folder must
    /// hold the marker; nothing is created.
    pub fn open_existing(dir: &Path) -> Result<Cache, CacheError> {
        if !dir.exists() {
            return Err(CacheError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        if !dir.is_dir() {
            return Err(CacheError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        if !dir.join(MARKER).is_file() {
            return Err(CacheError::NotACache {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// The cache folder.
    pub fn location(&self) -> &Path {
        &self.dir
    }

    /// `<cache>/builds`.
    pub fn builds_dir(&self) -> PathBuf {
        self.dir.join("builds")
    }

    /// `<cache>/builds/<name>`; the name must be a plain folder name.
    pub fn build_dir(&self, name: &str) -> Result<PathBuf, CacheError> {
        check_build_name(name)?;
        Ok(self.builds_dir().join(name))
    }

    /// `<cache>/builds/<name>/record.json`.
    pub fn record_path(&self, name: &str) -> Result<PathBuf, CacheError> {
        Ok(self.build_dir(name)?.join(RECORD_FILE))
    }

    /// Names of the builds that have a record, sorted.
    pub fn list_builds(&self) -> Result<Vec<String>, CacheError> {
        let builds = self.builds_dir();
        if !builds.exists() {
            return Ok(Vec::new());
        }
        let entries = std::fs::read_dir(&builds).map_err(CacheError::io("list", &builds))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(CacheError::io("list", &builds))?;
            // Names that are not UTF-8 were not made by turnkey.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if check_build_name(&name).is_ok() && entry.path().join(RECORD_FILE).is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads a build's record; `None` when the build has none yet.
    pub fn load_record(&self, name: &str) -> Result<Option<Record>, CacheError> {
        let path = self.record_path(name)?;
        if !path.exists() {
            return Ok(None);
        }
        Record::load(&path).map(Some)
    }

    /// Locks the build, reads its record (a new one if none), applies `f`,
    /// and writes it back atomically. Safe against concurrent updates from
    /// other threads and processes, including on a shared file system that
    /// supports `flock`.
    pub fn update_record(
        &self,
        name: &str,
        f: impl FnOnce(&mut Record),
    ) -> Result<Record, CacheError> {
        let dir = self.build_dir(name)?;
        store::update(&dir, name, f)
    }

    /// Holds one stage of a build (`export`, `row-ort-cpu`, ...) against other
    /// processes on this cache until the lock is dropped.
    pub fn stage_lock(&self, name: &str, stage: &str) -> Result<store::StageLock, CacheError> {
        store::StageLock::acquire(&self.build_dir(name)?, stage)
    }

    /// Empties a build's folder (for `--rebuild`, or a corrupt record), under
    /// its lock. The lock file stays so that waiting writers keep locking the
    /// same file.
    pub fn clear_build(&self, name: &str) -> Result<(), CacheError> {
        let dir = self.build_dir(name)?;
        store::clear(&dir)
    }
}

/// `-d`, else the environment variable, else the user cache folder.
fn resolve_dir(
    arg: Option<&Path>,
    env: Option<OsString>,
    default: impl FnOnce() -> Option<PathBuf>,
) -> Result<PathBuf, CacheError> {
    if let Some(dir) = arg {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = env.filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    default().ok_or(CacheError::NoDefaultDir)
}

fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "turnkey").map(|d| d.cache_dir().to_path_buf())
}

/// Makes `dir` a usable cache, or refuses it without touching anything.
fn prepare(dir: &Path) -> Result<(), CacheError> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(CacheError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let marker = dir.join(MARKER);
        if !marker.is_file() {
            let mut entries = std::fs::read_dir(dir).map_err(CacheError::io("read", dir))?;
            // Another turnkey may have marked the empty folder since we
            // looked: the marker is the first thing it writes, so a folder
            // whose entries appeared now has it.
            if entries.next().is_some() && !marker.is_file() {
                return Err(CacheError::NotACache {
                    dir: dir.to_path_buf(),
                });
            }
            write_marker(dir)?;
        }
    } else {
        std::fs::create_dir_all(dir).map_err(|e| writable_or(dir, e, "create"))?;
        write_marker(dir)?;
    }
    // A marked cache on a read-only mount: say so now, not at the first build.
    tempfile::Builder::new()
        .prefix(".turnkey-probe")
        .tempfile_in(dir)
        .map_err(|e| writable_or(dir, e, "write into"))?;
    let builds = dir.join("builds");
    std::fs::create_dir_all(&builds).map_err(|e| writable_or(dir, e, "create"))?;
    Ok(())
}

fn write_marker(dir: &Path) -> Result<(), CacheError> {
    std::fs::write(dir.join(MARKER), MARKER_TEXT).map_err(|e| writable_or(dir, e, "mark"))
}

/// Permission and read-only errors become the "not writable" message.
fn writable_or(dir: &Path, e: io::Error, action: &'static str) -> CacheError {
    let read_only = matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    );
    if read_only {
        CacheError::ReadOnly {
            dir: dir.to_path_buf(),
            source: e,
        }
    } else {
        CacheError::Io {
            action,
            path: dir.to_path_buf(),
            source: e,
        }
    }
}

fn check_build_name(name: &str) -> Result<(), CacheError> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || name.len() > 255;
    if bad {
        return Err(CacheError::BadBuildName {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn dir_comes_from_arg_then_env_then_default() {
        let d = |p: &str| Some(PathBuf::from(p));
        let arg = resolve_dir(Some(Path::new("/a")), Some("/e".into()), || d("/x")).unwrap();
        assert_eq!(arg, PathBuf::from("/a"));
        let env = resolve_dir(None, Some("/e".into()), || d("/x")).unwrap();
        assert_eq!(env, PathBuf::from("/e"));
        let def = resolve_dir(None, Some("".into()), || d("/x")).unwrap();
        assert_eq!(def, PathBuf::from("/x"));
        let err = resolve_dir(None, None, || None).unwrap_err().to_string();
        assert!(err.contains("-d") && err.contains(CACHE_DIR_ENV), "{err}");
    }

    #[test]
    fn new_and_empty_folders_are_created_and_marked() {
        let tmp = tempfile::tempdir().unwrap();
        let new = tmp.path().join("a/b/cache");
        let c = Cache::open(Some(&new)).unwrap();
        assert!(new.join(MARKER).is_file());
        assert!(c.builds_dir().is_dir());
        assert_eq!(c.location(), new);

        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        Cache::open(Some(&empty)).unwrap();
        assert!(empty.join(MARKER).is_file());
        // Re-opening a marked cache with builds in it is fine.
        Cache::open(Some(&new)).unwrap();
        // No probe files left behind.
        let left: Vec<_> = fs::read_dir(&new)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn non_empty_unmarked_folder_is_refused_and_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("docs");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("thesis.tex"), "precious").unwrap();
        let err = Cache::open(Some(&dir)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{} is not a turnkey cache (no .turnkeycache marker): pass an empty or new folder with -d",
                dir.display()
            )
        );
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![OsString::from("thesis.tex")]);
        assert_eq!(
            fs::read_to_string(dir.join("thesis.tex")).unwrap(),
            "precious"
        );
        assert!(Cache::open_existing(&dir).is_err());
    }

    #[test]
    fn a_file_is_not_a_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        fs::write(&file, "x").unwrap();
        let err = Cache::open(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
    }

    #[test]
    fn open_existing_requires_the_marker_and_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let err = Cache::open_existing(&missing).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert!(!missing.exists());
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let err = Cache::open_existing(&empty).unwrap_err().to_string();
        assert!(err.contains("not a turnkey cache"), "{err}");
        assert!(!empty.join(MARKER).exists());
        Cache::open(Some(&empty)).unwrap();
        Cache::open_existing(&empty).unwrap();
    }

    #[test]
    fn read_only_folder_is_a_clear_error() {
        use std::os::unix::fs::PermissionsExt;
        // Root ignores permission bits; sysfs refuses new folders even to root.
        let root = unsafe { libc::geteuid() } == 0;
        let tmp = tempfile::tempdir().unwrap();
        let dir = if root {
            PathBuf::from("/sys/turnkey-cache-test")
        } else {
            tmp.path().join("ro")
        };
        if !root {
            fs::create_dir(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        }
        let result = Cache::open(Some(&dir));
        if !root {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let err = result.unwrap_err().to_string();
        assert!(err.contains("is not writable"), "{err}");
        assert!(err.contains(&dir.display().to_string()), "{err}");
    }

    #[test]
    fn build_names_must_be_plain_folder_names() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        for bad in ["", "..", ".lock", "a/b", "../x", "a\\b"] {
            assert!(c.build_dir(bad).is_err(), "{bad}");
            assert!(c.update_record(bad, |_| {}).is_err(), "{bad}");
        }
        assert!(c.build_dir("linear_turnkey_1a2b3c4d").is_ok());
    }

    #[test]
    fn lists_builds_with_records_only() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        assert!(c.list_builds().unwrap().is_empty());
        c.update_record("b_2", |_| {}).unwrap();
        c.update_record("a_1", |_| {}).unwrap();
        fs::create_dir(c.builds_dir().join("half_made")).unwrap();
        assert_eq!(c.list_builds().unwrap(), vec!["a_1", "b_2"]);
        assert!(c.load_record("half_made").unwrap().is_none());
        assert_eq!(c.load_record("a_1").unwrap().unwrap().identity.name, "a_1");
    }
}
