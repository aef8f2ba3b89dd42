//! A Hugging Face repo id resolved in the local Hugging Face cache, the
//! way `huggingface_hub` lays it out:
//! `<hub cache>/models--ORG--NAME/snapshots/<commit>/`, with
//! `refs/<revision>` holding the commit of a branch or tag. Never a
//! download: a repo that is not there is an error saying where it looked.

use std::path::{Path, PathBuf};

/// The hub cache folder and how it was chosen (for messages): as
/// huggingface_hub decides, HF_HUB_CACHE, else HF_HOME/hub, else
/// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
pub fn hub_cache() -> (PathBuf, String) {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(v) = var("HF_HUB_CACHE").or_else(|| var("HUGGINGFACE_HUB_CACHE")) {
        return (PathBuf::from(v), "HF_HUB_CACHE".into());
    }
    if let Some(v) = var("HF_HOME") {
        return (PathBuf::from(v).join("hub"), "HF_HOME/hub".into());
    }
    if let Some(v) = var("XDG_CACHE_HOME") {
        return (
            PathBuf::from(v).join("huggingface").join("hub"),
            "XDG_CACHE_HOME/huggingface/hub; HF_HOME and HF_HUB_CACHE are unset".into(),
        );
    }
    let home = var("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    (
        home.join(".cache").join("huggingface").join("hub"),
        "the default; HF_HOME and HF_HUB_CACHE are unset".into(),
    )
}

/// Whether `s` reads as a repo id: `name` or `org/name` of letters,
/// digits, `-`, `_` and `.`.
pub fn is_repo_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// The snapshot folder of `repo` at `revision` (a branch, tag or commit).
pub fn snapshot(repo: &str, revision: &str) -> Result<PathBuf, String> {
    let (root, how) = hub_cache();
    snapshot_in(&root, &how, repo, revision)
}

pub fn snapshot_in(root: &Path, how: &str, repo: &str, revision: &str) -> Result<PathBuf, String> {
    let shown = format!("hf:{repo}@{revision}");
    if !is_repo_id(repo) {
        return Err(format!(
            "{shown}: \"{repo}\" is not a repo id: write it as ORG/NAME (e.g. openai-community/gpt2)"
        ));
    }
    if revision.is_empty() || revision.contains("..") {
        return Err(format!("{shown}: \"{revision}\" is not a revision"));
    }
    let folder = root.join(format!("models--{}", repo.replace('/', "--")));
    let never = "turnkey never downloads: fetch it with `huggingface-cli download {repo}` (or \
                 snapshot_download), or pass the weights with --weights PATH";
    let never = never.replace("{repo}", repo);
    if !folder.is_dir() {
        return Err(format!(
            "{shown}: not in the Hugging Face cache: looked for {} ({how}); {never}",
            folder.display()
        ));
    }
    let snapshots = folder.join("snapshots");
    let commit = match std::fs::read_to_string(folder.join("refs").join(revision)) {
        Ok(c) => c.trim().to_string(),
        Err(_) if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) => {
            revision.to_string()
        }
        Err(_) => {
            let mut refs: Vec<String> = std::fs::read_dir(folder.join("refs"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .collect()
                })
                .unwrap_or_default();
            refs.sort();
            return Err(format!(
                "{shown}: the cache has no revision \"{revision}\": looked for {} (revisions there: {}); {never}",
                folder.join("refs").join(revision).display(),
                if refs.is_empty() {
                    "none".into()
                } else {
                    refs.join(", ")
                }
            ));
        }
    };
    let snap = snapshots.join(&commit);
    if !snap.is_dir() {
        return Err(format!(
            "{shown}: revision {revision} is commit {commit}, whose snapshot is missing: looked for {}; {never}",
            snap.display()
        ));
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_resolve_through_refs_to_snapshots() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("models--acme--tiny-bert");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        std::fs::create_dir_all(repo.join("snapshots").join(commit)).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), format!("{commit}\n")).unwrap();
        let got = snapshot_in(root.path(), "test", "acme/tiny-bert", "main").unwrap();
        assert_eq!(got, repo.join("snapshots").join(commit));
        // A commit hash needs no ref.
        assert_eq!(
            snapshot_in(root.path(), "test", "acme/tiny-bert", commit).unwrap(),
            got
        );
        let e = snapshot_in(root.path(), "test", "acme/tiny-bert", "v2").unwrap_err();
        assert!(
            e.contains("no revision \"v2\"") && e.contains("revisions there: main"),
            "{e}"
        );
        let e = snapshot_in(root.path(), "HF_HOME/hub", "acme/other", "main").unwrap_err();
        assert!(
            e.contains("not in the Hugging Face cache: looked for")
                && e.contains("models--acme--other (HF_HOME/hub)")
                && e.contains("never downloads"),
            "{e}"
        );
        let e = snapshot_in(root.path(), "test", "../etc", "main").unwrap_err();
        assert!(e.contains("is not a repo id"), "{e}");
    }
}
