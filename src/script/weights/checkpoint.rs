//! Opening a checkpoint: one safetensors file, a sharded checkpoint (its
//! `model.safetensors.index.json`), or a folder holding either (a Hugging
//! Face snapshot). Only headers are read here, through a memory map and
//! the `safetensors` crate; the tensors' bytes are read at export
//! (graph::weights). Each file is hashed (sha256), once per process for an
//! unchanged file.

use crate::graph::weights::file_stamp;
use crate::graph::{DType, FileSlice};
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The file names a folder may hold, in the order they are looked for.
pub const SINGLE_FILE: &str = "model.safetensors";
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// One file of a checkpoint.
#[derive(Clone, Debug)]
pub struct CheckpointFile {
    pub path: PathBuf,
    pub sha256: String,
    pub len: u64,
    pub modified_ns: u128,
}

/// One tensor of a checkpoint: where its bytes are, what they are.
#[derive(Clone, Debug)]
pub struct Entry {
    pub file: usize,
    /// None for a dtype turnkey cannot hold (4- and 6-bit floats, complex).
    pub dtype: Option<DType>,
    pub stored: String,
    pub shape: Vec<usize>,
    pub offset: u64,
}

/// An opened checkpoint: every tensor's place, and the files' hashes.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// What the script named (a path as given, or `hf:org/name@revision`).
    pub name: String,
    /// The file or index that was opened.
    pub path: PathBuf,
    pub files: Vec<CheckpointFile>,
    pub tensors: BTreeMap<String, Entry>,
    /// sha256 of the file; of the shards' sha256s (in index order) for a
    /// sharded checkpoint.
    pub sha256: String,
}

impl Checkpoint {
    /// Opens `path`: a `.safetensors` file, an index `.json`, or a folder
    /// holding `model.safetensors` or `model.safetensors.index.json`.
    /// `name` is how errors and records name it.
    pub fn open(path: &Path, name: &str) -> Result<Checkpoint, String> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{name}: no such file: looked for {}", path.display())
            }
            _ => format!("{}: cannot read: {e}", path.display()),
        })?;
        if meta.is_dir() {
            let single = path.join(SINGLE_FILE);
            let index = path.join(INDEX_FILE);
            if single.is_file() {
                return Self::open(&single, name);
            }
            if index.is_file() {
                return Self::open(&index, name);
            }
            let mut held: Vec<String> = std::fs::read_dir(path)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .collect()
                })
                .unwrap_or_default();
            held.sort();
            let other = held
                .iter()
                .find(|f| f.ends_with(".bin") || f.ends_with(".pt") || f.ends_with(".pth"))
                .map(|f| {
                    format!(
                        "; it holds {f}, a pickle turnkey does not read: convert it to \
                         safetensors (safetensors.torch.save_file)"
                    )
                })
                .unwrap_or_default();
            return Err(format!(
                "{name}: no {SINGLE_FILE} nor {INDEX_FILE} in {}{other}",
                path.display()
            ));
        }
        let is_index = path.extension().is_some_and(|e| e == "json");
        let mut ck = Checkpoint {
            name: name.to_string(),
            path: path.to_path_buf(),
            files: Vec::new(),
            tensors: BTreeMap::new(),
            sha256: String::new(),
        };
        if is_index {
            ck.read_index(path)?;
            let mut h = Sha256::new();
            for f in &ck.files {
                h.update(f.sha256.as_bytes());
            }
            ck.sha256 = hex::encode(h.finalize());
        } else {
            ck.add_file(path, None)?;
            ck.sha256 = ck.files[0].sha256.clone();
        }
        Ok(ck)
    }

    /// The tensors of one shard (or of the whole checkpoint); `wanted` are
    /// the keys an index says the file holds.
    fn add_file(&mut self, path: &Path, wanted: Option<&[&str]>) -> Result<usize, String> {
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{}: no such file: looked for {shown}", self.name)
            }
            _ => format!("{shown}: cannot read: {e}"),
        })?;
        let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
        let (len, modified_ns) = file_stamp(&meta);
        // SAFETY: read-only, and only the header is read while it is mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| format!("{shown}: cannot map: {e}"))?;
        let (header_len, metadata) = SafeTensors::read_metadata(&map).map_err(|e| {
            format!(
                "{shown}: not a valid safetensors file ({}): is it complete and a safetensors file?",
                crate::text::one_line(&e.to_string())
            )
        })?;
        let data_start = 8 + header_len as u64;
        let idx = self.files.len();
        let mut held = metadata.tensors();
        if let Some(keys) = wanted
            && let Some(k) = keys.iter().find(|k| !held.contains_key(**k))
        {
            return Err(format!(
                "{shown}: has no tensor {k}, which {} says it holds (of {} it should hold)",
                self.path.display(),
                keys.len()
            ));
        }
        for (key, info) in held.drain() {
            if self.tensors.contains_key(&key) {
                return Err(format!(
                    "{shown}: tensor {key} is also in {}: a checkpoint holds each tensor once",
                    self.files[self.tensors[&key].file].path.display()
                ));
            }
            self.tensors.insert(
                key,
                Entry {
                    file: idx,
                    dtype: dtype_of(info.dtype),
                    stored: format!("{:?}", info.dtype),
                    shape: info.shape.clone(),
                    offset: data_start + info.data_offsets.0 as u64,
                },
            );
        }
        drop(map);
        let sha256 = sha256_of(path, len, modified_ns)?;
        self.files.push(CheckpointFile {
            path: path.to_path_buf(),
            sha256,
            len,
            modified_ns,
        });
        Ok(idx)
    }

    fn read_index(&mut self, path: &Path) -> Result<(), String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{}: no such file: looked for {shown}", self.name)
            }
            _ => format!("{shown}: cannot read: {e}"),
        })?;
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: BTreeMap<String, String>,
        }
        let index: Index = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{shown}: not a safetensors index ({}): it needs a \"weight_map\" of tensor name -> shard file",
                crate::text::one_line(&e.to_string())
            )
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // Shards in order of first mention, each with the keys it holds.
        let mut shards: Vec<(&str, Vec<&str>)> = Vec::new();
        for (key, shard) in &index.weight_map {
            match shards.iter_mut().find(|(s, _)| s == shard) {
                Some((_, keys)) => keys.push(key),
                None => shards.push((shard, vec![key])),
            }
        }
        shards.sort_by(|a, b| a.0.cmp(b.0));
        for (shard, keys) in &shards {
            if shard.contains('/') || shard.contains('\\') || *shard == ".." || shard.is_empty() {
                return Err(format!(
                    "{shown}: shard \"{shard}\" (holding {}) is not a file name: shards must lie beside the index",
                    keys[0]
                ));
            }
            let file = dir.join(shard);
            if !file.is_file() {
                return Err(format!(
                    "{shown}: shard {shard} is missing (it holds {}{}): looked for {}",
                    keys[0],
                    if keys.len() > 1 {
                        format!(" and {} more tensors", keys.len() - 1)
                    } else {
                        String::new()
                    },
                    file.display()
                ));
            }
            let idx = self.add_file(&file, Some(keys))?;
            // A shard may hold more than the index names: only the named
            // tensors are the checkpoint's.
            self.tensors.retain(|k, e| {
                e.file != idx || index.weight_map.get(k).is_some_and(|s| s == shard)
            });
        }
        Ok(())
    }

    /// Where tensor `key` is, for a parameter of dtype-compatible shape.
    pub fn slice(&self, key: &str) -> FileSlice {
        let e = &self.tensors[key];
        let f = &self.files[e.file];
        FileSlice {
            path: f.path.clone(),
            key: key.to_string(),
            offset: e.offset,
            dtype: e.dtype.expect("checked by the caller"),
            shape: e.shape.clone(),
            sha256: f.sha256.clone(),
            file_len: f.len,
            modified_ns: f.modified_ns,
            checkpoint: self.name.clone(),
            checkpoint_sha256: self.sha256.clone(),
        }
    }

    /// The file holding `key` (for messages).
    pub fn file_of(&self, key: &str) -> &Path {
        &self.files[self.tensors[key].file].path
    }
}

fn dtype_of(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::BOOL => DType::Bool,
        Dtype::U8 => DType::Uint8,
        Dtype::I8 => DType::Int8,
        Dtype::I16 => DType::Int16,
        Dtype::U16 => DType::Uint16,
        Dtype::I32 => DType::Int32,
        Dtype::U32 => DType::Uint32,
        Dtype::I64 => DType::Int64,
        Dtype::U64 => DType::Uint64,
        Dtype::F16 => DType::Float16,
        Dtype::BF16 => DType::Bfloat16,
        Dtype::F32 => DType::Float32,
        Dtype::F64 => DType::Float64,
        Dtype::F8_E4M3 => DType::Float8E4M3FN,
        Dtype::F8_E5M2 => DType::Float8E5M2,
        Dtype::F8_E4M3FNUZ => DType::Float8E4M3FNUZ,
        Dtype::F8_E5M2FNUZ => DType::Float8E5M2FNUZ,
        Dtype::F8_E8M0 => DType::Float8E8M0,
        _ => return None,
    })
}

/// sha256 (hex) of a file, computed once per process for the same file,
/// size and modification time.
fn sha256_of(path: &Path, len: u64, modified_ns: u128) -> Result<String, String> {
    type Key = (PathBuf, u64, u128);
    static DONE: OnceLock<Mutex<HashMap<Key, String>>> = OnceLock::new();
    let key = (path.to_path_buf(), len, modified_ns);
    let done = DONE.get_or_init(Default::default);
    if let Some(h) = done.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(h.clone());
    }
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let hex = hex::encode(h.finalize());
    done.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, hex.clone());
    Ok(hex)
}

/// Writes `tensors` as a safetensors file (tests and fixtures).
#[cfg(test)]
pub fn write_safetensors(path: &Path, tensors: &[(&str, &crate::graph::HostTensor)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, t) in tensors {
        let dt = match t.dtype {
            DType::Float32 => "F32",
            DType::Float16 => "F16",
            DType::Bfloat16 => "BF16",
            DType::Float64 => "F64",
            DType::Int64 => "I64",
            DType::Int32 => "I32",
            other => panic!("write_safetensors: {other}"),
        };
        let start = data.len();
        data.extend_from_slice(&t.data);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dt, "shape": t.shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut head = serde_json::to_vec(&header).unwrap();
    while !(8 + head.len()).is_multiple_of(8) {
        head.push(b' ');
    }
    let mut out = (head.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&head);
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}
