//! Parameters that come from a checkpoint file: a tensor of a safetensors
//! file, read through a memory map when the graph is exported and converted
//! to the parameter's dtype on the way, so a model's weights are never held
//! twice (the mapped pages are the file's, and are unmapped after each
//! tensor). Also the summary of where a graph's weights came from, which
//! builds record.

use super::dtype::DType;
use super::ir::{Graph, Init};
use half::{bf16, f16};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The base seed of generated weights: a script's n-th random parameter
/// comes from it (script::host::HostState::next_seed).
pub const RANDOM_SEED: u64 = 0;

/// One tensor of a checkpoint file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileSlice {
    /// The file (absolute).
    pub path: PathBuf,
    /// The tensor's name in the file.
    pub key: String,
    /// Byte offset of the tensor's data in the file.
    pub offset: u64,
    /// The dtype the file stores (converted to the parameter's on export).
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// sha256 (hex) of the whole file: part of the build identity.
    pub sha256: String,
    /// The file's size and modification time when it was hashed: a file
    /// changed since then is refused rather than read.
    pub file_len: u64,
    pub modified_ns: u128,
    /// What the script loaded (a path, or `hf:org/name@revision`), and the
    /// sha256 of the whole checkpoint (all its shards): what records show.
    pub checkpoint: String,
    pub checkpoint_sha256: String,
}

/// Size and modification time (ns since the epoch) of a file.
pub fn file_stamp(meta: &std::fs::Metadata) -> (u64, u128) {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    (meta.len(), modified)
}

impl FileSlice {
    pub fn nbytes(&self) -> usize {
        self.dtype.byte_len(self.shape.iter().product())
    }

    /// Writes the tensor into `out`, converted to `to` (`out` is exactly
    /// the converted tensor's size).
    pub fn write_into(&self, to: DType, out: &mut [u8]) -> Result<(), String> {
        let file = std::fs::File::open(&self.path)
            .map_err(|e| format!("{}: cannot open: {e}", self.path.display()))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        if file_stamp(&meta) != (self.file_len, self.modified_ns) {
            return Err(format!(
                "{} changed since its weights were loaded (size or modification time differ): \
                 run again to load it anew",
                self.path.display()
            ));
        }
        // SAFETY: the file is opened read-only and checked unchanged just
        // above; the map lives only while this tensor is copied out of it.
        // (A process truncating it right now could still fault the read,
        // as with any memory-mapped reader.)
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| format!("{}: cannot map: {e}", self.path.display()))?;
        let start = self.offset as usize;
        let src = map.get(start..start + self.nbytes()).ok_or_else(|| {
            format!(
                "{}: tensor {} lies past the end",
                self.path.display(),
                self.key
            )
        })?;
        convert(src, self.dtype, to, out)
            .map_err(|e| format!("{}: tensor {}: {e}", self.path.display(), self.key))
    }
}

/// Whether a tensor stored as `from` can be loaded into a `to` parameter:
/// floats convert into any float type (rounding to nearest even, as
/// PyTorch's `.to()`); other types load only as themselves.
pub fn convertible(from: DType, to: DType) -> bool {
    from == to || (is_plain_float(from) && is_plain_float(to))
}

fn is_plain_float(d: DType) -> bool {
    matches!(
        d,
        DType::Float32 | DType::Float16 | DType::Bfloat16 | DType::Float64
    )
}

/// Converts little-endian elements of `from` in `src` into `to` in `out`.
pub fn convert(src: &[u8], from: DType, to: DType, out: &mut [u8]) -> Result<(), String> {
    let size_err = || {
        format!(
            "{} bytes of {from} do not make {} bytes of {to}",
            src.len(),
            out.len()
        )
    };
    if from == to {
        if src.len() != out.len() {
            return Err(size_err());
        }
        out.copy_from_slice(src);
        return Ok(());
    }
    if !convertible(from, to) {
        return Err(format!("cannot convert {from} to {to}"));
    }
    let n = src.len() / from.size_bytes();
    if src.len() != from.byte_len(n) || out.len() != to.byte_len(n) {
        return Err(size_err());
    }
    // Every float reads as f32 except f64, which keeps its precision.
    if from == DType::Float64 || to == DType::Float64 {
        for (s, d) in src
            .chunks_exact(from.size_bytes())
            .zip(out.chunks_exact_mut(to.size_bytes()))
        {
            write_f64(d, to, read_f64(s, from));
        }
        return Ok(());
    }
    for (s, d) in src
        .chunks_exact(from.size_bytes())
        .zip(out.chunks_exact_mut(to.size_bytes()))
    {
        let v = match from {
            DType::Float32 => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
            DType::Float16 => f16::from_le_bytes([s[0], s[1]]).to_f32(),
            _ => bf16::from_le_bytes([s[0], s[1]]).to_f32(),
        };
        match to {
            DType::Float32 => d.copy_from_slice(&v.to_le_bytes()),
            DType::Float16 => d.copy_from_slice(&f16::from_f32(v).to_le_bytes()),
            _ => d.copy_from_slice(&bf16::from_f32(v).to_le_bytes()),
        }
    }
    Ok(())
}

fn read_f64(s: &[u8], d: DType) -> f64 {
    match d {
        DType::Float64 => f64::from_le_bytes(s.try_into().expect("8 bytes")),
        DType::Float32 => f32::from_le_bytes(s.try_into().expect("4 bytes")) as f64,
        DType::Float16 => f16::from_le_bytes([s[0], s[1]]).to_f64(),
        _ => bf16::from_le_bytes([s[0], s[1]]).to_f64(),
    }
}

fn write_f64(out: &mut [u8], d: DType, v: f64) {
    match d {
        DType::Float64 => out.copy_from_slice(&v.to_le_bytes()),
        DType::Float32 => out.copy_from_slice(&(v as f32).to_le_bytes()),
        DType::Float16 => out.copy_from_slice(&f16::from_f64(v).to_le_bytes()),
        _ => out.copy_from_slice(&bf16::from_f64(v).to_le_bytes()),
    }
}

/// A checkpoint file a build's weights were read from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WeightsFile {
    pub path: String,
    pub sha256: String,
    /// Tensors of the build read from it.
    pub tensors: u64,
}

/// Where a build's weights came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightsInfo {
    /// One line: `random(0)`, `CHECKPOINT (sha256 0123456789ab)`, or both
    /// joined by ` + ` when some parameters were loaded and others not.
    pub source: String,
    /// The checkpoint files read, with their sha256.
    pub files: Vec<WeightsFile>,
    /// Parameters (tensors) loaded from files, and generated.
    pub loaded: u64,
    pub random: u64,
    /// Tensors converted on load, by `stored->parameter` dtype pair.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub converted: BTreeMap<String, u64>,
}

impl Graph {
    /// Where this graph's parameters come from.
    pub fn weights_info(&self) -> WeightsInfo {
        let mut info = WeightsInfo::default();
        let mut files: BTreeMap<&str, WeightsFile> = BTreeMap::new();
        let mut checkpoints: BTreeMap<(&str, &str), ()> = BTreeMap::new();
        for p in &self.params {
            match &p.init {
                Init::File(s) => {
                    info.loaded += 1;
                    let f = files
                        .entry(s.sha256.as_str())
                        .or_insert_with(|| WeightsFile {
                            path: s.path.display().to_string(),
                            sha256: s.sha256.clone(),
                            tensors: 0,
                        });
                    f.tensors += 1;
                    checkpoints.insert((&s.checkpoint, &s.checkpoint_sha256), ());
                    if s.dtype != p.info.dtype {
                        *info
                            .converted
                            .entry(format!("{}->{}", s.dtype, p.info.dtype))
                            .or_default() += 1;
                    }
                }
                _ => info.random += 1,
            }
        }
        let mut parts: Vec<String> = checkpoints
            .keys()
            .map(|(name, sha)| format!("{name} (sha256 {})", &sha[..sha.len().min(12)]))
            .collect();
        if info.random > 0 || parts.is_empty() {
            let r = format!("random({RANDOM_SEED})");
            parts.push(if parts.is_empty() {
                r
            } else {
                format!("{r} for {} tensors", info.random)
            });
        }
        info.source = parts.join(" + ");
        info.files = files.into_values().collect();
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_f32(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn floats_convert_rounding_to_nearest_even() {
        let v = [1.0f32, -2.5, 65504.0, 1.0e-8, 0.1];
        let src = bytes_f32(&v);
        let mut h = vec![0u8; 10];
        convert(&src, DType::Float32, DType::Float16, &mut h).unwrap();
        let back: Vec<f32> = h
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect();
        let want: Vec<f32> = v.iter().map(|&x| f16::from_f32(x).to_f32()).collect();
        assert_eq!(back, want);
        // bf16 -> f32 is exact, f32 -> f64 too.
        let b: Vec<u8> = v
            .iter()
            .flat_map(|&x| bf16::from_f32(x).to_le_bytes())
            .collect();
        let mut f = vec![0u8; 20];
        convert(&b, DType::Bfloat16, DType::Float32, &mut f).unwrap();
        let mut d = vec![0u8; 40];
        convert(&f, DType::Float32, DType::Float64, &mut d).unwrap();
        let got: Vec<f64> = d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let want: Vec<f64> = v.iter().map(|&x| bf16::from_f32(x).to_f64()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn other_types_load_only_as_themselves() {
        let src = 7i64.to_le_bytes();
        let mut out = [0u8; 4];
        let e = convert(&src, DType::Int64, DType::Int32, &mut out).unwrap_err();
        assert!(e.contains("cannot convert int64 to int32"), "{e}");
        let e = convert(&src, DType::Int64, DType::Float32, &mut out).unwrap_err();
        assert!(e.contains("cannot convert"), "{e}");
        let mut same = [0u8; 8];
        convert(&src, DType::Int64, DType::Int64, &mut same).unwrap();
        assert_eq!(same, src);
        assert!(!convertible(DType::Float32, DType::Float8E4M3FN));
    }

    #[test]
    fn a_file_changed_since_loading_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        std::fs::write(&path, bytes_f32(&[1.0, 2.0, 3.0])).unwrap();
        let (file_len, modified_ns) = file_stamp(&std::fs::metadata(&path).unwrap());
        let slice = FileSlice {
            path: path.clone(),
            key: "w".into(),
            offset: 4,
            dtype: DType::Float32,
            shape: vec![2],
            sha256: "00".repeat(32),
            file_len,
            modified_ns,
            checkpoint: "w.bin".into(),
            checkpoint_sha256: "00".repeat(32),
        };
        let mut out = [0u8; 4];
        slice.write_into(DType::Float16, &mut out).unwrap();
        let got: Vec<f32> = out
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect();
        assert_eq!(got, [2.0, 3.0]);
        std::fs::write(&path, bytes_f32(&[1.0, 2.0, 3.0, 4.0])).unwrap();
        let e = slice.write_into(DType::Float16, &mut out).unwrap_err();
        assert!(e.contains("changed since its weights were loaded"), "{e}");
    }
}
