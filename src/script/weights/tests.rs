//! Loading checkpoints into scripts: names, prefixes, tied weights, dtypes,
//! shards and every error a checkpoint can give.

use super::checkpoint::{INDEX_FILE, write_safetensors};
use crate::graph::{DType, HostTensor, Init};
use crate::script::{DiscoverOptions, Discovery, discover};
use std::path::{Path, PathBuf};

/// A folder holding the script and its checkpoint files.
struct Case {
    dir: tempfile::TempDir,
}

fn t(dtype: DType, shape: &[usize], first: f64) -> HostTensor {
    HostTensor::from_fn(dtype, shape, |i| first + i as f64 * 0.25)
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, tensors: &[(&str, HostTensor)]) -> &Self {
        let refs: Vec<(&str, &HostTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        write_safetensors(&self.path(name), &refs);
        self
    }

    fn run_with(&self, src: &str, weights: Option<&Path>) -> Result<Discovery, String> {
        let path = self.path("t.rhai");
        std::fs::write(&path, src).unwrap();
        let opts = DiscoverOptions {
            weights: weights.map(Path::to_path_buf),
            ..Default::default()
        };
        discover(&path, &opts).map_err(|e| e.to_string())
    }

    fn run(&self, src: &str) -> Result<Discovery, String> {
        self.run_with(src, None)
    }
}

/// The two-layer model of these tests, with `load` applied to it.
fn two_layer(load: &str) -> String {
    format!(
        r#"
let fc1 = nn::linear(4, 3);
let fc2 = nn::linear(3, 2);
let m = nn::module("TwoLayer", |x| fc2.forward(relu(fc1.forward(x))));
let m = m.{load};
m.forward(rand([1, 4]));
"#
    )
}

fn two_layer_tensors(prefix: &str) -> Vec<(String, HostTensor)> {
    vec![
        (
            format!("{prefix}fc1.weight"),
            t(DType::Float32, &[3, 4], 0.5),
        ),
        (format!("{prefix}fc1.bias"), t(DType::Float32, &[3], -1.0)),
        (
            format!("{prefix}fc2.weight"),
            t(DType::Float32, &[2, 3], 2.0),
        ),
        (format!("{prefix}fc2.bias"), t(DType::Float32, &[2], 3.0)),
    ]
}

fn write(c: &Case, name: &str, tensors: &[(String, HostTensor)]) {
    let v: Vec<(&str, HostTensor)> = tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    c.file(name, &v);
}

/// (name, key in the file) of every parameter; "random" when generated.
fn sources(d: &Discovery) -> Vec<(String, String)> {
    d.builds[0]
        .graph
        .params
        .iter()
        .map(|p| {
            let src = match &p.init {
                Init::File(f) => f.key.clone(),
                _ => "random".into(),
            };
            (p.name.clone(), src)
        })
        .collect()
}

#[test]
fn a_checkpoint_loads_by_name_and_its_values_are_exported() {
    let c = Case::new();
    write(&c, "w.safetensors", &two_layer_tensors(""));
    let d = c
        .run(&two_layer(r#"load_weights("w.safetensors")"#))
        .unwrap();
    let g = &d.builds[0].graph;
    for (p, (name, want)) in g.params.iter().zip(two_layer_tensors("")) {
        assert_eq!(p.name, name);
        assert_eq!(p.materialize().unwrap(), want, "{name}");
    }
    let info = g.weights_info();
    assert_eq!((info.loaded, info.random), (4, 0));
    assert!(
        info.source.starts_with("w.safetensors (sha256 "),
        "{}",
        info.source
    );
    assert_eq!(info.files.len(), 1);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);

    // The build identity follows the checkpoint: random weights, another
    // checkpoint and the same one again.
    let random = c.run(&two_layer("half().to_dtype(\"float32\")")).unwrap();
    assert_eq!(random.builds[0].graph.weights_info().source, "random(0)");
    let same = c
        .run(&two_layer(r#"load_weights("w.safetensors")"#))
        .unwrap();
    let mut other = two_layer_tensors("");
    other[0].1 = t(DType::Float32, &[3, 4], 9.0);
    write(&c, "v.safetensors", &other);
    let changed = c
        .run(&two_layer(r#"load_weights("v.safetensors")"#))
        .unwrap();
    let hash = |d: &Discovery| d.builds[0].hash.clone();
    assert_eq!(hash(&d), hash(&same));
    assert_ne!(hash(&d), hash(&random));
    assert_ne!(hash(&d), hash(&changed));
}

#[test]
fn the_original_model_keeps_random_weights() {
    let c = Case::new();
    write(&c, "w.safetensors", &two_layer_tensors(""));
    let src = r#"
let fc = nn::linear(4, 3);
let m = nn::module("M", |x| fc.forward(x));
let loaded = m.load_weights("w.safetensors", #{ strict: false });
m.forward(rand([1, 4]));
"#;
    let d = c.run(src).unwrap();
    assert!(sources(&d).iter().all(|(_, s)| s == "random"));
    // A loaded model called inside another keeps its weights.
    let src = r#"
let fc1 = nn::linear(4, 3);
let fc2 = nn::linear(3, 2);
let inner = nn::module("TwoLayer", |x| fc2.forward(relu(fc1.forward(x)))).load_weights("w.safetensors");
let head = nn::linear(2, 2);
let outer = nn::module("Outer", |x| head.forward(inner.forward(x)));
outer.forward(rand([1, 4]));
"#;
    let d = c.run(src).unwrap();
    assert_eq!(
        sources(&d),
        [
            ("inner.fc1.weight".into(), "fc1.weight".into()),
            ("inner.fc1.bias".into(), "fc1.bias".into()),
            ("inner.fc2.weight".into(), "fc2.weight".into()),
            ("inner.fc2.bias".into(), "fc2.bias".into()),
            ("head.weight".into(), "random".into()),
            ("head.bias".into(), "random".into()),
        ]
    );
}

#[test]
fn prefixes_on_either_side_are_found() {
    // A checkpoint saved with a head (BertForPreTraining's `bert.` and `cls.`).
    let c = Case::new();
    let mut ts = two_layer_tensors("bert.");
    ts.push(("cls.dense.weight".into(), t(DType::Float32, &[2, 2], 0.0)));
    write(&c, "head.safetensors", &ts);
    let d = c
        .run(&two_layer(r#"load_weights("head.safetensors")"#))
        .unwrap();
    assert_eq!(
        sources(&d)[0],
        ("fc1.weight".into(), "bert.fc1.weight".into())
    );
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("read from the keys under \"bert.\"")
                && w.contains("1 other tensors are left out (cls.dense.weight)")),
        "{:?}",
        d.warnings
    );
    // A deeper prefix (Whisper's `model.encoder.`).
    write(&c, "deep.safetensors", &two_layer_tensors("model.encoder."));
    let d = c
        .run(&two_layer(r#"load_weights("deep.safetensors")"#))
        .unwrap();
    assert_eq!(sources(&d)[3].1, "model.encoder.fc2.bias");
    // A model that wraps what the checkpoint holds (GPT2LMHeadModel's
    // `transformer.` over a GPT2Model checkpoint).
    write(&c, "base.safetensors", &two_layer_tensors(""));
    let src = r#"
let fc1 = nn::linear(4, 3);
let fc2 = nn::linear(3, 2);
let transformer = nn::module("Base", |x| fc2.forward(relu(fc1.forward(x))));
let m = nn::module("Wrapper", |x| transformer.forward(x)).load_weights("base.safetensors");
m.forward(rand([1, 4]));
"#;
    let d = c.run(src).unwrap();
    assert_eq!(
        sources(&d)[0],
        ("transformer.fc1.weight".into(), "fc1.weight".into())
    );
    // An explicit prefix.
    let d = c
        .run(&two_layer(
            r#"load_weights("head.safetensors", #{ prefix: "bert.", ignore: ["cls.*"] })"#,
        ))
        .unwrap();
    assert_eq!(sources(&d)[1].1, "bert.fc1.bias");
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn legacy_gamma_and_beta_read_as_weight_and_bias() {
    let c = Case::new();
    c.file(
        "ln.safetensors",
        &[
            ("LayerNorm.gamma", t(DType::Float32, &[4], 1.0)),
            ("LayerNorm.beta", t(DType::Float32, &[4], 0.0)),
        ],
    );
    let src = r#"
let ln = nn::layer_norm(4);
let m = nn::module("M", #{ LayerNorm: ln }, |x| ln.forward(x)).load_weights("ln.safetensors");
m.forward(rand([1, 4]));
"#;
    let d = c.run(src).unwrap();
    assert_eq!(
        sources(&d),
        [
            ("LayerNorm.weight".into(), "LayerNorm.gamma".into()),
            ("LayerNorm.bias".into(), "LayerNorm.beta".into())
        ]
    );
}

/// T5's embedding: one parameter named `shared.weight` and
/// `encoder.embed_tokens.weight`.
const TIED: &str = r#"
fn stack(embed_tokens) { nn::module("Stack", |ids| embed_tokens.forward(ids)) }
let shared_embedding = nn::embedding(5, 2);
let encoder = stack(shared_embedding);
let m = nn::module("T5", #{ "shared": shared_embedding }, |ids| {
    matmul(encoder.forward(ids), shared_embedding.param("weight").transpose(0, 1))
});
m.load_weights("tied.safetensors", OPTS).forward(randint(0, 5, [1, 3]));
"#;

#[test]
fn tied_weights_load_from_any_of_their_names() {
    let c = Case::new();
    let emb = t(DType::Float32, &[5, 2], 0.0);
    // Saved under its second name only.
    c.file(
        "tied.safetensors",
        &[("encoder.embed_tokens.weight", emb.clone())],
    );
    let d = c.run(&TIED.replace("OPTS", "#{}")).unwrap();
    assert_eq!(
        sources(&d),
        [("shared.weight".into(), "encoder.embed_tokens.weight".into())]
    );
    // Under every name, as old checkpoints hold it, plus a tied head.
    c.file(
        "tied.safetensors",
        &[
            ("shared.weight", emb.clone()),
            ("encoder.embed_tokens.weight", emb.clone()),
            ("lm_head.weight", emb.clone()),
        ],
    );
    let opts = r#"#{ aliases: #{ "lm_head.weight": "shared.weight" } }"#;
    let d = c.run(&TIED.replace("OPTS", opts)).unwrap();
    assert_eq!(
        sources(&d),
        [("shared.weight".into(), "shared.weight".into())]
    );
    // Without the alias the head is an unexpected key.
    let e = c.run(&TIED.replace("OPTS", "#{}")).unwrap_err();
    assert!(e.contains("1 unexpected (lm_head.weight)"), "{e}");
    // Two names of one tied parameter that disagree.
    c.file(
        "tied.safetensors",
        &[
            ("shared.weight", emb.clone()),
            (
                "encoder.embed_tokens.weight",
                t(DType::Float32, &[5, 2], 1.0),
            ),
        ],
    );
    let e = c.run(&TIED.replace("OPTS", "#{}")).unwrap_err();
    assert!(
        e.contains(
            "encoder.embed_tokens.weight and shared.weight name one tied parameter of the model \
             but hold different values"
        ) || e.contains(
            "shared.weight and encoder.embed_tokens.weight name one tied parameter of the model \
             but hold different values"
        ),
        "{e}"
    );
}

#[test]
fn strict_errors_list_the_first_few_and_count() {
    let c = Case::new();
    let mut ts = two_layer_tensors("");
    ts.remove(3); // fc2.bias missing
    ts[0].1 = t(DType::Float32, &[3, 5], 0.0); // fc1.weight of another shape
    for k in 0..5 {
        ts.push((format!("extra.{k}"), t(DType::Float32, &[1], 0.0)));
    }
    ts.push(("bn.num_batches_tracked".into(), t(DType::Int64, &[], 0.0)));
    write(&c, "bad.safetensors", &ts);
    let e = c
        .run(&two_layer(r#"load_weights("bad.safetensors")"#))
        .unwrap_err();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.contains(
            "TwoLayer.load_weights: bad.safetensors: the checkpoint does not fit TwoLayer: 1 \
             missing (fc2.bias), 5 unexpected (extra.0, extra.1, extra.2 and 2 more), 1 of \
             another shape or type (fc1.weight: checkpoint [3, 5] vs model [3, 4]); fix the names \
             or shapes, or pass #{ strict: false } to load what fits"
        ),
        "{e}"
    );
    assert!(e.contains("t.rhai"), "names the script line: {e}");
    // strict: false loads what fits and says what it left out.
    let d = c
        .run(&two_layer(
            r#"load_weights("bad.safetensors", #{ strict: false })"#,
        ))
        .unwrap();
    assert_eq!(
        sources(&d)
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["random", "fc1.bias", "fc2.weight", "random"]
    );
    let info = d.builds[0].graph.weights_info();
    assert!(
        info.source.starts_with("bad.safetensors (sha256 ")
            && info.source.ends_with(" + random(0) for 2 tensors"),
        "{}",
        info.source
    );
    assert!(
        d.warnings[0]
            .contains("loaded 2 of TwoLayer's 4 tensors; not loaded: 1 missing (fc2.bias)"),
        "{:?}",
        d.warnings
    );
    let e = c
        .run(&two_layer(
            r#"load_weights("bad.safetensors", #{ strict: 1 })"#,
        ))
        .unwrap_err();
    assert!(e.contains("strict takes true or false"), "{e}");
    let e = c
        .run(&two_layer(
            r#"load_weights("bad.safetensors", #{ strikt: false })"#,
        ))
        .unwrap_err();
    assert!(
        e.contains("unknown option \"strikt\"; known: strict, prefix"),
        "{e}"
    );
}

/// A converted checkpoint written as ONNX external data (the path of
/// models over 2 GiB) holds the same bytes as the inline export.
#[test]
fn checkpoint_tensors_stream_into_external_data_converted() {
    use crate::onnx::proto::ModelProto;
    use crate::onnx::{ExportOptions, ExternalData, export_model, export_to_file};
    use prost::Message;
    let c = Case::new();
    let bf: Vec<(String, HostTensor)> = two_layer_tensors("")
        .into_iter()
        .map(|(n, t)| {
            let v = t.to_f64_vec();
            (n, HostTensor::from_fn(DType::Bfloat16, &t.shape, |i| v[i]))
        })
        .collect();
    write(&c, "bf16.safetensors", &bf);
    let d = c
        .run(&two_layer(r#"load_weights("bf16.safetensors")"#))
        .unwrap();
    let g = &d.builds[0].graph;
    let inline = export_model(g, &ExportOptions::default()).unwrap();
    let opts = ExportOptions {
        external_data: ExternalData::Always,
        ..Default::default()
    };
    let path = c.path("ext/model.onnx");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (data, _) = export_to_file(g, &opts, &path).unwrap().external.unwrap();
    let data = std::fs::read(data).unwrap();
    let ext = ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
    let inits = &ext.graph.as_ref().unwrap().initializer;
    assert_eq!(inits.len(), 4);
    for (e, want) in inits
        .iter()
        .zip(&inline.graph.as_ref().unwrap().initializer)
    {
        let field = |k: &str| -> usize {
            let v = e.external_data.iter().find(|x| x.key == k).unwrap();
            v.value.parse().unwrap()
        };
        let (at, len) = (field("offset"), field("length"));
        assert_eq!(e.name, want.name);
        assert_eq!(&data[at..at + len], &want.raw_data[..], "{}", e.name);
    }
    // And those are the checkpoint's values as float32.
    assert_eq!(
        g.params[0].materialize().unwrap(),
        two_layer_tensors("")[0].1
    );
}

#[test]
fn dtypes_convert_to_the_parameters_and_say_so() {
    let c = Case::new();
    let bf: Vec<(String, HostTensor)> = two_layer_tensors("")
        .into_iter()
        .map(|(n, t)| {
            let v = t.to_f64_vec();
            (n, HostTensor::from_fn(DType::Bfloat16, &t.shape, |i| v[i]))
        })
        .collect();
    write(&c, "bf16.safetensors", &bf);
    let d = c
        .run(&two_layer(r#"load_weights("bf16.safetensors")"#))
        .unwrap();
    let g = &d.builds[0].graph;
    assert_eq!(g.params[0].info.dtype, DType::Float32);
    assert_eq!(
        g.params[0].materialize().unwrap(),
        two_layer_tensors("")[0].1
    );
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("4 tensors converted from bfloat16 to float32 on load")),
        "{:?}",
        d.warnings
    );
    assert_eq!(g.weights_info().converted["bfloat16->float32"], 4);
    // half() after loading: float32 weights become float16 at export.
    c.file(
        "w.safetensors",
        &[("0.weight", t(DType::Float32, &[3, 4], 0.5))],
    );
    let src = r#"
let m = nn::sequential([nn::linear(4, 3, #{ bias: false })]).load_weights("w.safetensors").half();
m.forward(rand([1, 4], "float16"));
"#;
    let d = c.run(src).unwrap();
    let p = &d.builds[0].graph.params[0];
    assert_eq!(p.info.dtype, DType::Float16);
    let want = two_layer_tensors("")[0].1.to_f64_vec();
    assert_eq!(p.materialize().unwrap().to_f64_vec(), want);
    // Integers do not become floats.
    let mut ints = two_layer_tensors("");
    ints[1].1 = HostTensor::zeros(DType::Int64, &[3]);
    write(&c, "int.safetensors", &ints);
    let e = c
        .run(&two_layer(r#"load_weights("int.safetensors")"#))
        .unwrap_err();
    assert!(
        e.contains("fc1.bias: stored as int64, which does not convert to the parameter's float32"),
        "{e}"
    );
}

#[test]
fn sharded_checkpoints_load_and_a_missing_shard_is_named() {
    let c = Case::new();
    let ts = two_layer_tensors("");
    write(&c, "model-00001-of-00002.safetensors", &ts[..2]);
    write(&c, "model-00002-of-00002.safetensors", &ts[2..]);
    let index = serde_json::json!({
        "metadata": {"total_size": 92},
        "weight_map": {
            "fc1.weight": "model-00001-of-00002.safetensors",
            "fc1.bias": "model-00001-of-00002.safetensors",
            "fc2.weight": "model-00002-of-00002.safetensors",
            "fc2.bias": "model-00002-of-00002.safetensors",
        }
    });
    std::fs::write(c.path(INDEX_FILE), index.to_string()).unwrap();
    // The index, or the folder holding it.
    for src in [INDEX_FILE, "."] {
        let d = c
            .run(&two_layer(&format!(r#"load_weights("{src}")"#)))
            .unwrap();
        let info = d.builds[0].graph.weights_info();
        assert_eq!((info.loaded, info.files.len()), (4, 2), "{src}");
        assert_eq!(d.builds[0].graph.params[3].materialize().unwrap(), ts[3].1);
    }
    std::fs::remove_file(c.path("model-00002-of-00002.safetensors")).unwrap();
    let e = c
        .run(&two_layer(&format!(r#"load_weights("{INDEX_FILE}")"#)))
        .unwrap_err();
    assert!(
        e.contains(&format!(
            "{INDEX_FILE}: shard model-00002-of-00002.safetensors is missing (it holds fc2.bias \
             and 1 more tensors): looked for {}",
            c.path("model-00002-of-00002.safetensors").display()
        )),
        "{e}"
    );
    // A shard without a tensor the index names.
    write(&c, "model-00002-of-00002.safetensors", &ts[2..3]);
    let e = c
        .run(&two_layer(&format!(r#"load_weights("{INDEX_FILE}")"#)))
        .unwrap_err();
    assert!(e.contains("has no tensor fc2.bias, which"), "{e}");
}

#[test]
fn bad_files_are_one_line_errors_naming_them() {
    let c = Case::new();
    let e = c
        .run(&two_layer(r#"load_weights("nope.safetensors")"#))
        .unwrap_err();
    assert!(
        e.contains(&format!(
            "nope.safetensors: no such file: looked for {}",
            c.path("nope.safetensors").display()
        )),
        "{e}"
    );
    // A header that claims more than the file holds, and one not JSON.
    let mut bytes = 1000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    std::fs::write(c.path("short.safetensors"), &bytes).unwrap();
    let mut bytes = 4u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{{{{");
    std::fs::write(c.path("json.safetensors"), &bytes).unwrap();
    for f in ["short", "json"] {
        let e = c
            .run(&two_layer(&format!(r#"load_weights("{f}.safetensors")"#)))
            .unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.contains(&format!(
                "{}: not a valid safetensors file (",
                c.path(&format!("{f}.safetensors")).display()
            )),
            "{e}"
        );
    }
    // An empty folder, and one holding only a pickle.
    std::fs::create_dir(c.path("empty")).unwrap();
    let e = c.run(&two_layer(r#"load_weights("empty")"#)).unwrap_err();
    assert!(
        e.contains("empty: no model.safetensors nor model.safetensors.index.json in"),
        "{e}"
    );
    std::fs::write(c.path("empty/pytorch_model.bin"), b"x").unwrap();
    let e = c.run(&two_layer(r#"load_weights("empty")"#)).unwrap_err();
    assert!(e.contains("it holds pytorch_model.bin, a pickle"), "{e}");
    // Outside the sandbox.
    let e = c
        .run(&two_layer(r#"load_weights("/etc/passwd")"#))
        .unwrap_err();
    assert!(
        e.contains("load_weights(\"/etc/passwd\"): not allowed: scripts read files only from"),
        "{e}"
    );
    let e = c
        .run(&two_layer(r#"load_weights("hf:acme/none@main")"#))
        .unwrap_err();
    assert!(
        e.contains("hf:acme/none@main: not in the Hugging Face cache: looked for"),
        "{e}"
    );
}

#[test]
fn pretrained_loads_the_command_lines_weights_or_the_configs_repo() {
    let c = Case::new();
    write(&c, "w.safetensors", &two_layer_tensors(""));
    let src = |config: &str| {
        format!(
            r#"
let args = parse(["pretrained"]);
let fc1 = nn::linear(4, 3);
let fc2 = nn::linear(3, 2);
let m = nn::module("TwoLayer", |x| fc2.forward(relu(fc1.forward(x)))).load_weights({config});
m.forward(rand([1, 4]));
"#
        )
    };
    // --weights makes `pretrained` true and is what it loads.
    let w = c.path("w.safetensors");
    let d = c
        .run_with(&src("#{ pretrained: args.pretrained }"), Some(&w))
        .unwrap();
    assert_eq!(d.builds[0].graph.weights_info().loaded, 4);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // Without --weights: random, or the repo id (not in any cache here).
    let d = c.run(&src("#{ pretrained: args.pretrained }")).unwrap();
    assert_eq!(d.builds[0].graph.weights_info().source, "random(0)");
    let e = c.run(&src("#{ pretrained: true }")).unwrap_err();
    assert!(
        e.contains("pretrained: true, but no --weights was given and the config names no repo id"),
        "{e}"
    );
    let e = c
        .run(&src(r#"#{ pretrained: true, repo: "acme/none-such" }"#))
        .unwrap_err();
    assert!(
        e.contains("hf:acme/none-such@main: not in the Hugging Face cache"),
        "{e}"
    );
    // `weights:` wins, and a --weights no load asks for is a warning.
    let d = c
        .run_with(&src(r#"#{ weights: "w.safetensors" }"#), Some(&w))
        .unwrap();
    assert!(
        d.warnings
            .iter()
            .any(|x| x.contains("--weights was given but the script loaded no pretrained weights")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn load_tensors_gives_concrete_inputs() {
    let c = Case::new();
    c.file(
        "inputs.safetensors",
        &[
            ("x", t(DType::Float32, &[1, 4], 0.0)),
            (
                "ids",
                HostTensor::from_fn(DType::Int64, &[1, 3], |i| i as f64),
            ),
        ],
    );
    let d = c
        .run(
            r#"
let inputs = load_tensors("inputs.safetensors");
if inputs.ids.dtype != "int64" { throw "ids"; }
let m = nn::linear(4, 2);
m.forward(inputs.x);
"#,
        )
        .unwrap();
    assert_eq!(d.builds[0].inputs[0].1, t(DType::Float32, &[1, 4], 0.0));
}
