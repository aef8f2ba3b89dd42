//! Writing an export to disk: one protobuf file when it fits, else the
//! graph in `model.onnx` and the weights in `model.onnx.data` as ONNX
//! external data (protobuf cannot hold 2 GiB). The weights are generated
//! and written one parameter per thread at their offsets, so the peak
//! memory is a few parameters, never the whole model.

use super::{
    ExportOptions, PART_BYTES, PROTOBUF_LIMIT, ParamInit, export_with, lower_model, parallel,
};
use crate::graph::Graph;
use crate::onnx::OnnxError;
use crate::onnx::proto::{StringStringEntryProto, TensorProto, data_location};
use prost::Message;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Where an export puts its weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExternalData {
    /// Inline when the model fits one protobuf file, else external.
    #[default]
    Auto,
    /// Always in a `.data` file beside the model.
    Always,
    /// Always inline (an error over 2 GiB).
    Never,
}

/// Offsets of external tensors are multiples of this, so loaders that map
/// the file can map each tensor on its own page.
const ALIGN: u64 = 4096;

/// What [`export_to_file`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Bytes of the model file.
    pub model_bytes: u64,
    /// The external data file and its bytes, when the weights are there.
    pub external: Option<(PathBuf, u64)>,
}

/// The external data file's name for a model file: `model.onnx.data`.
pub fn data_file_name(model: &Path) -> String {
    format!(
        "{}.data",
        model
            .file_name()
            .map_or_else(|| "model.onnx".into(), |n| n.to_string_lossy().into_owned())
    )
}

/// Writes `graph` to `path` (and its weights beside it when external),
/// each file atomically: a reader never sees a half-written model. A stale
/// data file of an earlier inline export is removed.
pub fn export_to_file(
    graph: &Graph,
    opts: &ExportOptions,
    path: &Path,
) -> Result<Written, OnnxError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let data_name = data_file_name(path);
    let data_path = dir.join(&data_name);
    let weights: u64 = graph
        .params
        .iter()
        .map(|p| p.info.numel() * p.info.dtype.size_bytes() as u64)
        .sum();
    // The graph's own fields are small beside the weights; leave them room.
    let external = match opts.external_data {
        ExternalData::Always => true,
        ExternalData::Never => false,
        ExternalData::Auto => weights > PROTOBUF_LIMIT as u64 - (64 << 20),
    };
    let io = |p: &Path, e: std::io::Error| OnnxError::Write {
        path: p.to_path_buf(),
        source: e,
    };
    if !external {
        // Generated straight into the file's pages through a memory map: no
        // buffer of the whole model, and no copy of it into the file.
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
        let map = export_with(graph, opts, |total| {
            tmp.as_file()
                .set_len(total as u64)
                .map_err(|e| io(path, e))?;
            // SAFETY: the file is our own fresh temporary file, sized just
            // above; nothing else maps or truncates it while it is written.
            unsafe { memmap2::MmapMut::map_mut(tmp.as_file()) }.map_err(|e| io(path, e))
        })?;
        // Unmapped, the pages are the file's, as after write(2); as there,
        // the kernel writes them back.
        let model_bytes = map.len() as u64;
        drop(map);
        tmp.persist(path).map_err(|e| io(path, e.error))?;
        let _ = std::fs::remove_file(&data_path);
        return Ok(Written {
            model_bytes,
            external: None,
        });
    }

    let (mut model, params) = lower_model(graph, opts)?;
    let mut slots = Vec::with_capacity(params.len());
    let mut headers = Vec::with_capacity(params.len());
    let mut offset = 0u64;
    for p in &params {
        let len = p.raw_len() as u64;
        offset = offset.div_ceil(ALIGN) * ALIGN;
        headers.push(external_header(p, &data_name, offset, len));
        if p.param.splits() {
            // Big random tensors in parts, so one large matrix keeps every
            // thread busy.
            let part = PART_BYTES as u64;
            for k in 0..len.div_ceil(part) {
                let n = part.min(len - k * part);
                slots.push((p, offset + k * part, n, Some(k * part / 4)));
            }
        } else {
            slots.push((p, offset, len, None));
        }
        offset += len;
    }
    let data_len = offset;
    let gp = model.graph.as_mut().expect("lower_model sets the graph");
    gp.initializer.extend(headers);
    let model_bytes = model.encode_to_vec();
    if model_bytes.len() > PROTOBUF_LIMIT {
        return Err(OnnxError::Graph {
            graph: graph.name.clone(),
            msg: format!(
                "the graph alone (without its weights) is {:.2} GiB, over protobuf's 2 GiB limit",
                model_bytes.len() as f64 / (1u64 << 30) as f64
            ),
        });
    }

    // The data file: sized first (a sparse file), each parameter generated
    // and written at its offset by whichever thread takes it.
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
    tmp.as_file()
        .set_len(data_len)
        .map_err(|e| io(&data_path, e))?;
    let file = tmp.as_file();
    parallel(
        slots,
        |(_, _, len, _)| *len as usize,
        |(p, at, len, first)| {
            // write_into checks the size and streams a checkpoint's
            // tensor from its mapped file, converted on the way.
            let mut data = vec![0u8; len as usize];
            match first {
                Some(first) => p.param.write_part(&mut data, first),
                None => p.param.write_into(&mut data),
            }
            .map_err(|msg| OnnxError::Graph {
                graph: graph.name.clone(),
                msg,
            })?;
            file.write_all_at(&data, at).map_err(|e| io(&data_path, e))
        },
    )?;
    tmp.as_file().sync_all().map_err(|e| io(&data_path, e))?;
    tmp.persist(&data_path)
        .map_err(|e| io(&data_path, e.error))?;
    write_atomically(dir, path, &model_bytes).map_err(|e| io(path, e))?;
    Ok(Written {
        model_bytes: model_bytes.len() as u64,
        external: Some((data_path, data_len)),
    })
}

fn external_header(p: &ParamInit, location: &str, offset: u64, length: u64) -> TensorProto {
    let entry = |k: &str, v: String| StringStringEntryProto {
        key: k.to_string(),
        value: v,
    };
    TensorProto {
        data_location: data_location::EXTERNAL,
        external_data: vec![
            entry("location", location.to_string()),
            entry("offset", offset.to_string()),
            entry("length", length.to_string()),
        ],
        ..p.header()
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
