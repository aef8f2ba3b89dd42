//! Is the cache on a file system the nodes share? Only a guess from the
//! file system type (statfs): turnkey says so when it cannot tell.

use std::path::Path;

/// What kind of file system a path is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsKind {
    /// A network or cluster file system (NFS, Lustre, GPFS, ...).
    Shared(&'static str),
    /// Local to this machine (ext4, xfs, tmpfs, overlay, ...).
    Local(&'static str),
    /// Anything else (FUSE could be either): its magic number.
    Unknown(u64),
}

// statfs f_type magic numbers (linux/magic.h and the vendors' headers).
const SHARED: &[(u64, &str)] = &[
    (0x6969, "nfs"),
    (0x517B, "smb"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x0BD0_0BD0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x00C3_6400, "ceph"),
    (0x1983_0326, "beegfs"),
    (0xAAD7_AAEA, "panfs"),
    (0x5346_414F, "afs"),
    (0x0102_1997, "9p"),
];
const LOCAL: &[(u64, &str)] = &[
    (0xEF53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0x8584_58F6, "ramfs"),
    (0x794C_7630, "overlayfs"),
    (0x2FC1_2FC1, "zfs"),
    (0xF2F5_2010, "f2fs"),
    (0x7371_7368, "squashfs"),
    (0x4D44, "vfat"),
    (0x5346_544E, "ntfs"),
];

/// Classifies a statfs magic number.
pub fn classify(magic: u64) -> FsKind {
    if let Some((_, n)) = SHARED.iter().find(|(m, _)| *m == magic) {
        return FsKind::Shared(n);
    }
    if let Some((_, n)) = LOCAL.iter().find(|(m, _)| *m == magic) {
        return FsKind::Local(n);
    }
    FsKind::Unknown(magic)
}

/// The kind of file system `path` is on.
pub fn fs_kind(path: &Path) -> std::io::Result<FsKind> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a valid out-pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // f_type is signed on some targets; the magic numbers are 32-bit patterns.
    Ok(classify(st.f_type as u64 & 0xFFFF_FFFF))
}

/// A warning when the nodes may not see `path` (for `what`, e.g. "the cache
/// -d /x"); `None` when it is on a shared file system, or when every node
/// is this machine (a single-node cluster needs no sharing).
pub fn shared_warning(what: &str, path: &Path, nodes: &[String]) -> Option<String> {
    let this = crate::cache::system::hostname().unwrap_or_default();
    let short = this.split('.').next().unwrap_or("").to_string();
    let only_here = !nodes.is_empty()
        && nodes
            .iter()
            .all(|n| n == &this || n == &short || n == "localhost");
    if only_here {
        return None;
    }
    match fs_kind(path) {
        Ok(FsKind::Shared(_)) => None,
        Ok(FsKind::Local(name)) => Some(format!(
            "{what} ({}) is on a local file system ({name}): Slurm jobs on other nodes will not \
             see it; put it on a file system the nodes share (NFS, Lustre, GPFS, ...)",
            path.display()
        )),
        Ok(FsKind::Unknown(m)) => Some(format!(
            "cannot tell whether {what} ({}) is on a file system the nodes share (type {m:#x}): \
             make sure it is",
            path.display()
        )),
        Err(e) => Some(format!(
            "cannot tell whether {what} ({}) is shared with the nodes: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_known_types() {
        assert_eq!(classify(0x6969), FsKind::Shared("nfs"));
        assert_eq!(classify(0x0BD0_0BD0), FsKind::Shared("lustre"));
        assert_eq!(classify(0x0102_1994), FsKind::Local("tmpfs"));
        assert_eq!(classify(0xEF53), FsKind::Local("ext4"));
        assert_eq!(classify(0x6573_5546), FsKind::Unknown(0x6573_5546));
    }

    #[test]
    fn proc_is_read_and_dev_shm_is_local() {
        assert!(fs_kind(Path::new("/proc")).is_ok());
        if Path::new("/dev/shm").exists() {
            let k = fs_kind(Path::new("/dev/shm")).unwrap();
            assert_eq!(k, FsKind::Local("tmpfs"));
            let w = shared_warning("the cache", Path::new("/dev/shm"), &["elsewhere".into()]);
            assert!(w.unwrap().contains("local file system (tmpfs)"));
        }
        assert!(fs_kind(Path::new("/no/such/dir")).is_err());
    }

    #[test]
    fn single_node_cluster_on_this_host_needs_no_sharing() {
        let me = crate::cache::system::hostname().unwrap();
        assert_eq!(
            shared_warning("the cache", Path::new("/dev/shm"), &[me]),
            None
        );
        assert_eq!(
            shared_warning("the cache", Path::new("/dev/shm"), &["localhost".into()]),
            None
        );
    }
}
