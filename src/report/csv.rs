//! `turnkey-report.csv`: the fixed columns, then one `label:<key>` column per
//! label key (see the module docs of `report` for the column list).

use super::{Exporter, Report, ReportError, header, label_keys};

pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn serialize(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let rows = &report.rows;
        let failed = |e: ::csv::Error| ReportError::Format {
            format: "csv",
            message: e.to_string(),
        };
        let keys = label_keys(rows);
        let mut out = ::csv::Writer::from_writer(Vec::new());
        out.write_record(header(rows)).map_err(failed)?;
        for row in rows {
            let labels = keys.iter().map(|k| row.label_cell(k));
            out.write_record(row.fixed_cells().into_iter().chain(labels))
                .map_err(failed)?;
        }
        out.into_inner().map_err(|e| ReportError::Format {
            format: "csv",
            message: e.error().to_string(),
        })
    }

    fn file_name(&self) -> &str {
        "turnkey-report.csv"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Status;
    use crate::report::{COLUMNS, ReportRow};

    #[test]
    fn header_is_exact_and_cells_are_quoted() {
        let row = ReportRow {
            build: "b".into(),
            status: Status::Error,
            error: "line one, with comma\nline \"two\"".into(),
            labels: [("author".to_string(), vec!["a".to_string(), "b".to_string()])].into(),
            ..Default::default()
        };
        let bytes = CsvExporter
            .serialize(&Report::from_rows(vec![row]))
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first, format!("{},label:author", COLUMNS.join(",")));
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        let error = COLUMNS.iter().position(|c| *c == "error").unwrap();
        assert_eq!(&rec[error], "line one, with comma\nline \"two\"");
        assert_eq!(&rec[COLUMNS.len()], "a,b");
    }

    #[test]
    fn empty_report_has_just_the_header() {
        let text = String::from_utf8(CsvExporter.serialize(&Report::default()).unwrap()).unwrap();
        assert_eq!(text, format!("{}\n", COLUMNS.join(",")));
    }
}
