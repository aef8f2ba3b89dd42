//! `turnkey report` end to end: the selftest corpus benchmarked into a
//! cache, then the CSV, JSON, HTML and Markdown reports as a user reads
//! them — the HTML opened in headless Chromium — plus two caches with
//! overlapping builds and a cache with a corrupt record.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use wait_timeout::ChildExt;

const FAST: [&str; 6] = [
    "--iterations",
    "20",
    "--warmup-iterations",
    "2",
    "--warmup-time",
    "0.02",
];

/// The selftest corpus on ort and tract, plus linear.rhai at batch 4 and 16
/// (a batch-size sweep), benchmarked once for all the tests of this file.
struct Corpus {
    cache: PathBuf,
    /// The end-of-run summaries the runs printed.
    stdout: String,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_corpus");
        let _ = std::fs::remove_dir_all(&cache);
        let d = cache.to_str().unwrap();
        let scripts = selftest();
        let mut args = vec!["-d", d, "--runtime", "ort,tract"];
        args.extend(FAST);
        args.extend(scripts.iter().map(String::as_str));
        let r = run(&args);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let mut stdout = r.stdout;
        for batch in ["4", "16"] {
            let sa = format!("--batch_size {batch}");
            let mut args = vec!["-d", d, "--runtime", "ort,tract", "--script-args", &sa];
            args.extend(FAST);
            args.push("models/selftest/linear.rhai");
            let r = run(&args);
            assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
            stdout.push_str(&r.stdout);
        }
        Corpus { cache, stdout }
    })
}

fn report(caches: &[&Path], out: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["report".to_string(), "-d".to_string()];
    args.extend(caches.iter().map(|c| c.display().to_string()));
    args.extend(["-o".to_string(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&args);
    assert_eq!(r.code, 0, "report failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

fn csv_records(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(dir.join("turnkey-report.csv")).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// Debian's Chromium (scripts/setup_chromium.sh installs it).
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("TURNKEY_CHROMIUM") {
        return PathBuf::from(p);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("chromium not found: run scripts/setup_chromium.sh (or set TURNKEY_CHROMIUM)");
}

/// Runs headless Chromium on `page` with `args`; returns stdout.
fn browse(page: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        // Nothing may come from the network: make every host unreachable.
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .args(["--no-first-run", "--hide-scrollbars"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    match child.wait_timeout(Duration::from_secs(120)).unwrap() {
        Some(status) => assert!(status.success(), "chromium failed: {status}"),
        None => {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
    }
    reader.join().unwrap()
}

/// The `<tr class="row">` rows inside the table `id`.
fn table_rows(dom: &str, id: &str) -> usize {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id} in the DOM"));
    let end = start + dom[start..].find("</table>").unwrap();
    dom[start..end].matches("<tr class=\"row\"").count()
}

/// Every `http://` or `https://` in `text` is an XML namespace name (the
/// SVG `xmlns`), which browsers never fetch.
fn assert_no_external_urls(text: &str) {
    for scheme in ["http://", "https://"] {
        for (i, _) in text.match_indices(scheme) {
            let before = &text[i.saturating_sub(7)..i];
            let after = &text[i..(i + 40).min(text.len())];
            assert!(
                before.ends_with("xmlns=\"") || before.ends_with("xlink=\""),
                "external URL referenced: ...{before}{after}..."
            );
            assert!(after.starts_with("http://www.w3.org/"), "{after}");
        }
    }
    for bad in ["<link", "@import", "url(", " src=", "<iframe", "<img"] {
        assert!(!text.contains(bad), "the page uses {bad}");
    }
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    report(&[&c.cache], out.path(), &[]);
    let (_, rows) = csv_records(out.path());
    assert_eq!(
        rows.len(),
        16,
        "6 selftest builds + 2 sweep builds, x 2 runtimes"
    );
    let page = out.path().join("turnkey-report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_no_external_urls(&html);

    let dom = browse(&page, &["--dump-dom".to_string()]);
    // The script ran: the results table holds every row (one page of 100).
    assert_eq!(table_rows(&dom, "results-table"), rows.len(), "table rows");
    assert!(dom.contains(&format!("1–{} of {} rows", rows.len(), rows.len())));
    assert!(
        dom.contains("class=\"badge st-successful\""),
        "status badges"
    );
    assert!(dom.contains("class=\"badge ck-passed\""), "check badges");
    assert!(dom.contains("class=\"badge ck-reference\""));
    // Charts: latency per model, distributions, the batch sweep, speedups.
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 4, "{svgs} charts");
    for title in [
        "Median latency per model",
        "Latency distribution per row",
        "Throughput vs batch size",
        "Geometric mean speedup",
    ] {
        assert!(dom.contains(title), "chart {title} missing");
    }
    assert!(dom.contains("No row has a measured peak FLOP/s"));
    // The speedups table: one row per build (tract against ort).
    assert_eq!(table_rows(&dom, "speedups-table"), 8);

    let shot = out.path().join("report.png");
    browse(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1300,3000".to_string(),
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(png.len() > 20_000, "a blank page? {} bytes", png.len());
}

/// The cells of the table `id`'s rows, as text, in page order.
fn table_cells(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap();
    let end = start + dom[start..].find("</table>").unwrap();
    dom[start..end]
        .split("<tr class=\"row\"")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| {
                    // The text of the cell, without the tags of a badge.
                    let inner = &td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()];
                    let mut text = String::new();
                    let mut in_tag = false;
                    for c in inner.chars() {
                        match c {
                            '<' => in_tag = true,
                            '>' => in_tag = false,
                            c if !in_tag => text.push(c),
                            _ => {}
                        }
                    }
                    text
                })
                .collect()
        })
        .collect()
}

/// `2.500 µs` → 0.0025 (ms).
fn latency_ms(cell: &str) -> f64 {
    let (v, unit) = cell.split_once(' ').unwrap();
    let v: f64 = v.parse().unwrap();
    v * match unit {
        "ns" => 1e-6,
        "µs" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        other => panic!("unit {other} in {cell}"),
    }
}

#[test]
fn html_table_pages_filters_and_sorts_in_the_browser() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    report(&[&c.cache], out.path(), &["--format", "html"]);
    let page = out.path().join("turnkey-report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("\"pageSize\":100"));

    // Paging: the script's own pager, with a page of 5 rows.
    let small = out.path().join("small.html");
    std::fs::write(
        &small,
        html.replacen("\"pageSize\":100", "\"pageSize\":5", 1),
    )
    .unwrap();
    let dom = browse(&small, &["--dump-dom".to_string()]);
    assert_eq!(table_rows(&dom, "results-table"), 5);
    assert!(dom.contains("1–5 of 16 rows, page 1 of 4"), "pager text");

    // Filtering and sorting as a user would: type in the filter box, click
    // the "median" header (cells carry their unit: µs and ms sort as time).
    let user = r#"<script>
        var box = document.querySelector('#results input[type=search]');
        box.value = 'LINEAR';
        box.dispatchEvent(new Event('input'));
        var th = Array.from(document.querySelectorAll('#results-table th'))
            .find(function (t) { return t.textContent === 'median'; });
        th.click();
    </script></body>"#;
    let driven = out.path().join("driven.html");
    std::fs::write(&driven, html.replacen("</body>", user, 1)).unwrap();
    let dom = browse(&driven, &["--dump-dom".to_string()]);
    let rows = table_cells(&dom, "results-table");
    // linear at batch 1, 4 and 16, on ort and tract.
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows.iter().all(|r| r[0].starts_with("linear_")), "{rows:?}");
    assert!(dom.contains("1–6 of 6 rows (filtered from 16)"));
    let medians: Vec<f64> = rows.iter().map(|r| latency_ms(&r[3])).collect();
    let mut sorted = medians.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(medians, sorted, "sorted by median, fastest first");
    assert!(dom.contains("sorted-asc"), "the header shows the sort");
}

#[test]
fn json_report_has_every_column_samples_and_system() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    report(&[&c.cache], out.path(), &["--format", "json,csv"]);
    assert!(!out.path().join("turnkey-report.html").exists());
    let (header, rows) = csv_records(out.path());
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("turnkey-report.json")).unwrap())
            .unwrap();
    assert_eq!(doc["schema"], "turnkey-report");
    assert_eq!(doc["schema_version"], 1);
    let columns: Vec<&str> = doc["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(columns, header);
    let jrows = doc["rows"].as_array().unwrap();
    assert_eq!(jrows.len(), rows.len());
    for (j, csv_row) in jrows.iter().zip(&rows) {
        for name in &header[..32] {
            assert!(j.get(name.as_str()).is_some(), "{name} missing");
        }
        assert_eq!(j["build"], csv_row[col(&header, "build")].as_str());
        assert_eq!(j["runtime"], csv_row[col(&header, "runtime")].as_str());
        // Numbers are numbers, equal to the CSV's.
        let median: f64 = csv_row[col(&header, "median_ms")].parse().unwrap();
        assert_eq!(j["median_ms"].as_f64().unwrap(), median);
        // The per-iteration samples, summarized.
        let s = &j["samples"];
        assert_eq!(s["count"], 20, "{s}");
        assert_eq!(s["median_ms"].as_f64().unwrap(), median);
        let p25 = s["p25_ms"].as_f64().unwrap();
        let p75 = s["p75_ms"].as_f64().unwrap();
        assert!(s["min_ms"].as_f64().unwrap() <= p25 && p25 <= median && median <= p75);
        let counts = s["histogram"]["counts"].as_array().unwrap();
        assert_eq!(counts.iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 20);
        assert!(j["batch_size"].as_u64().unwrap() >= 1);
        assert!(j["achieved_flops"].as_f64().unwrap() > 0.0);
        assert_eq!(j["pct_of_peak"], Value::Null);
    }
    let cache = &doc["caches"][0];
    assert_eq!(cache["rows"], 16);
    assert_eq!(cache["successful"], 16);
    assert_eq!(cache["failed"], 0);
    let system = &cache["systems"][0];
    assert!(system["logical_cores"].as_u64().unwrap() >= 1);
    assert!(!system["os"].as_str().unwrap().is_empty());
    assert!(
        cache["runtimes"]["ort"][0]
            .as_str()
            .unwrap()
            .starts_with("1.")
    );
    // ort is the reference runtime, so the baseline.
    assert_eq!(doc["comparison"]["baseline"]["kind"], "runtime");
    assert_eq!(doc["comparison"]["baseline"]["runtime"], "ort");
    assert_eq!(doc["comparison"]["variants"][0]["builds"], 8);
    // linear at batch 1, 4 and 16 on each runtime.
    let sweeps = doc["sweeps"].as_array().unwrap();
    assert_eq!(sweeps.len(), 2, "{sweeps:?}");
    let batches: Vec<u64> = sweeps[0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["batch_size"].as_u64().unwrap())
        .collect();
    assert_eq!(batches, vec![1, 4, 16]);
}

#[test]
fn markdown_has_the_terminal_cells() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    let r = report(
        &[&c.cache],
        out.path(),
        &["--format", "md", "--baseline", "tract"],
    );
    assert!(
        r.stdout.contains("ort/cpu vs runtime tract:"),
        "{}",
        r.stdout
    );
    let md = std::fs::read_to_string(out.path().join("turnkey-report.md")).unwrap();
    let table: Vec<&str> = md
        .lines()
        .take_while(|l| !l.starts_with("###"))
        .filter(|l| l.starts_with('|'))
        .collect();
    assert_eq!(table.len(), 2 + 16);
    // Each build x runtime line of the end-of-run summary reads the same in
    // the Markdown table: one source of truth for the cells.
    let mut checked = 0;
    for line in c.stdout.lines().filter(|l| l.contains("_turnkey_")) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        // The median carries its unit: "1.657 ms".
        let (build, runtime) = (cells[0], cells[1]);
        let median = format!("{} {}", cells[3], cells[4]);
        let md_line = table
            .iter()
            .find(|l| l.starts_with(&format!("| {build} | {runtime} |")))
            .unwrap_or_else(|| panic!("{build} {runtime} not in the Markdown"));
        assert!(
            md_line.contains(&format!("| {median} |")),
            "{md_line} vs {line}"
        );
        checked += 1;
    }
    assert!(checked >= 16, "{checked}");
    assert!(md.contains("### Speedup vs runtime tract"));
}

/// A small cache: linear.rhai (and maybe twolayer.rhai) on tract.
fn small_cache(dir: &Path, scripts: &[&str]) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["-d", d, "--runtime", "tract"];
    args.extend(FAST);
    args.extend(scripts);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn two_caches_with_overlapping_builds_have_no_duplicate_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    small_cache(&a, &["models/selftest/linear.rhai"]);
    small_cache(
        &b,
        &[
            "models/selftest/linear.rhai",
            "models/selftest/twolayer.rhai",
        ],
    );
    // A copy of cache a (rsync to another disk) holds the same results.
    let copy = tmp.path().join("copy_of_a");
    let status = Command::new("cp")
        .args(["-a", a.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tmp.path().join("out");
    let r = report(&[&a, &b, &a, &copy], &out, &["--format", "csv,json,html"]);
    let (header, rows) = csv_records(&out);
    let key = |r: &Vec<String>| {
        ["build", "runtime", "device", "cache"].map(|c| r[col(&header, c)].clone())
    };
    let keys: HashSet<[String; 4]> = rows.iter().map(key).collect();
    assert_eq!(keys.len(), rows.len(), "duplicate rows: {rows:?}");
    // linear in a and in b (two runs), twolayer in b; nothing from the copy.
    assert_eq!(rows.len(), 3, "{rows:?}");
    let caches: Vec<&str> = rows
        .iter()
        .map(|r| r[col(&header, "cache")].as_str())
        .collect();
    assert!(
        !caches.iter().any(|c| c.contains("copy_of_a")),
        "{caches:?}"
    );
    // The first cache is the baseline: linear compared across machines/runs.
    assert!(r.stdout.contains("tract/cpu @ "), "{}", r.stdout);
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.join("turnkey-report.json")).unwrap()).unwrap();
    assert_eq!(
        doc["caches"].as_array().unwrap().len(),
        3,
        "a given twice is one cache"
    );
    assert_eq!(doc["caches"][2]["duplicates"], 1);
    assert_eq!(doc["comparison"]["baseline"]["kind"], "cache");
    assert_eq!(doc["comparison"]["speedups"].as_array().unwrap().len(), 1);
    let html = std::fs::read_to_string(out.join("turnkey-report.html")).unwrap();
    assert!(html.contains("1 duplicate rows skipped"));
    assert!(html.contains("Speedup per build"));
}

#[test]
fn a_corrupt_record_is_reported_and_the_rest_still_is() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("c");
    small_cache(
        &cache,
        &[
            "models/selftest/linear.rhai",
            "models/selftest/twolayer.rhai",
        ],
    );
    // A half-written record (a crash mid-write on a file system without
    // atomic rename) and a damaged samples file.
    let half = cache.join("builds/half_written_1a2b3c4d");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(
        half.join("record.json"),
        "{\"schema_version\": 1, \"identity\": {\"na",
    )
    .unwrap();
    let linear = builds(&cache)
        .into_iter()
        .find(|b| {
            b.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("linear")
        })
        .unwrap();
    std::fs::write(
        linear.join("samples/tract-cpu.csv"),
        "iteration,latency_ms\n0,x\n",
    )
    .unwrap();
    // A record as turnkey wrote it before records kept the histogram: the
    // report must read (and here report) the samples file instead.
    let record_path = linear.join("record.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    for row in doc["runtimes"].as_array_mut().unwrap() {
        assert!(row.as_object_mut().unwrap().remove("histogram").is_some());
    }
    std::fs::write(&record_path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let out = tmp.path().join("out");
    let r = report(&[&cache], &out, &["--format", "csv,json,html,md"]);
    let record = half.join("record.json").display().to_string();
    assert!(
        r.stderr.contains(&format!(
            "warning: unreadable record: corrupt build record {record}"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("samples file") && r.stderr.contains("tract-cpu.csv"),
        "{}",
        r.stderr
    );
    let (header, rows) = csv_records(&out);
    assert_eq!(rows.len(), 3, "two good rows and the corrupt build");
    let bad = rows
        .iter()
        .find(|r| r[col(&header, "build")] == "half_written_1a2b3c4d")
        .unwrap();
    assert_eq!(bad[col(&header, "status")], "error");
    assert!(bad[col(&header, "error")].contains(&record));
    let good = rows
        .iter()
        .filter(|r| r[col(&header, "status")] == "successful")
        .count();
    assert_eq!(good, 2);
    let html = std::fs::read_to_string(out.join("turnkey-report.html")).unwrap();
    assert!(html.contains("id=\"problems\"") && html.contains(&record));
    assert!(html.contains("1 unreadable records"));
    let md = std::fs::read_to_string(out.join("turnkey-report.md")).unwrap();
    assert!(md.contains("### Problems") && md.contains(&record));
}

#[test]
fn bad_format_and_baseline_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    small_cache(tmp.path(), &["models/selftest/linear.rhai"]);
    let d = tmp.path().to_str().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let r = run(&["report", "-d", d, "-o", o, "--format", "csv,pdf"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown report format 'pdf'")
            && r.stderr.contains("csv, json, html, md"),
        "{}",
        r.stderr
    );
    let r = run(&["report", "-d", d, "-o", o, "--baseline", "torch"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--baseline torch") && r.stderr.contains("tract/cpu"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing written on a usage error");
}
