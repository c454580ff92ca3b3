//! CSV import: decode, recognise the format, validate each row, write in batches, report.
//!
//! The parsing of the file formats lives in `wafa-ingest` (pure); validation is the same as
//! the API's ([`crate::validate`]); writing is the store's batch path. A file-level problem
//! (encoding, header) stops before anything is written; a bad row is reported with its line
//! and the rest still import. Re-importing a file changes nothing: customers resolve by
//! their external id / email / phone and orders by their external id.

use crate::error::{AppError, AppResult};
use crate::store::{CustomerImportRow, ImportRecord, OrderImportRow, RowOutcome, Store};
use crate::validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use wafa_domain::{ErrorCode, Region};
use wafa_ingest::csv_import::{decode, detect_format, CsvFormat, CustomerCsv, FileError, OrderCsv};

pub const BATCH: usize = 500;
/// Errors kept on the import record (the CLI's report file has all of them).
pub const STORED_ERRORS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportRowError {
    pub line: u64,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
    pub message_ar: String,
}

/// The per-row error report (CSV: line, code, field, message, message_ar), as the CLI writes
/// next to the file and the console offers for download.
pub fn write_error_report<W: std::io::Write>(
    w: W,
    errors: &[ImportRowError],
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(w);
    w.write_record(["line", "code", "field", "message", "message_ar"])?;
    for e in errors {
        w.write_record([
            e.line.to_string(),
            e.code.clone(),
            e.field.clone().unwrap_or_default(),
            e.message.clone(),
            e.message_ar.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// The file kind a caller asked for: `customers`, `orders`, or detect from the header.
pub fn expected_format(kind: Option<&str>) -> AppResult<Option<CsvFormat>> {
    match kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some("customers") => Ok(Some(CsvFormat::ShopifyCustomers)),
        Some("orders") => Ok(Some(CsvFormat::GenericOrders)),
        Some(k) => Err(AppError::validation(
            "kind",
            format!("{k:?}: use customers or orders"),
        )),
    }
}

pub struct ImportOutcome {
    pub record: ImportRecord,
    pub errors: Vec<ImportRowError>,
}

pub struct ImportRequest<'a> {
    pub workspace_id: i64,
    pub actor: &'a str,
    pub region: Region,
    /// Expected format; `None` detects it from the header.
    pub expect: Option<CsvFormat>,
    pub source_id: Option<i64>,
    pub file_name: Option<&'a str>,
}

fn file_error(e: FileError) -> AppError {
    let extra = json!({"missing_columns": e.missing_columns});
    AppError::new(e.code, e.message).with_extra(extra)
}

fn row_error(line: u64, code: ErrorCode, field: Option<String>, message: String) -> ImportRowError {
    ImportRowError {
        line,
        code: code.as_str().to_owned(),
        field,
        message,
        message_ar: code.message_ar().to_owned(),
    }
}

/// Counts: total, created, updated, unchanged, failed.
#[derive(Default)]
struct Tally {
    c: [i64; 5],
}

impl Tally {
    fn add(&mut self, o: RowOutcome) {
        self.c[0] += 1;
        match o {
            RowOutcome::Created => self.c[1] += 1,
            RowOutcome::Updated => self.c[2] += 1,
            RowOutcome::Unchanged => self.c[3] += 1,
        }
    }
    fn fail(&mut self) {
        self.c[0] += 1;
        self.c[4] += 1;
    }
    /// Count a written batch's outcomes; failed rows become errors with their lines.
    fn record(
        &mut self,
        lines: impl Iterator<Item = u64>,
        outcomes: Vec<Result<(RowOutcome, i64), crate::store::RowFailure>>,
        errors: &mut Vec<ImportRowError>,
    ) {
        for (line, out) in lines.zip(outcomes) {
            match out {
                Ok((o, _)) => self.add(o),
                Err(f) => {
                    self.fail();
                    errors.push(row_error(
                        line,
                        f.error.code,
                        f.error.field.clone(),
                        f.error.detail.clone(),
                    ));
                }
            }
        }
    }
}

/// Import a CSV file's bytes. `progress(rows_done, rows_estimate)` is called after each batch.
pub async fn import_csv(
    store: &Store,
    req: ImportRequest<'_>,
    bytes: &[u8],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> AppResult<ImportOutcome> {
    let decoded = decode(bytes).map_err(file_error)?;
    let format = detect_format(&decoded.text).map_err(file_error)?;
    if let Some(expect) = req.expect {
        if expect != format {
            return Err(AppError::new(
                ErrorCode::CsvInvalidHeader,
                format!("expected a {expect:?} file but the header is a {format:?} file"),
            ));
        }
    }
    let estimate = decoded
        .text
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        .saturating_sub(1) as u64;
    let source_id = match req.source_id {
        Some(id) => {
            if !store.source_exists(req.workspace_id, id).await? {
                return Err(AppError::field(
                    ErrorCode::ValidationFailed,
                    "source_id",
                    "no such source in this workspace",
                ));
            }
            id
        }
        None => match format {
            CsvFormat::ShopifyCustomers => {
                store
                    .find_or_create_source(
                        req.workspace_id,
                        req.actor,
                        "shopify",
                        "Shopify (CSV import)",
                    )
                    .await?
            }
            CsvFormat::GenericOrders => {
                store
                    .find_or_create_source(req.workspace_id, req.actor, "csv", "Orders CSV import")
                    .await?
            }
        },
    };
    let kind = match format {
        CsvFormat::ShopifyCustomers => "customers",
        CsvFormat::GenericOrders => "orders",
    };
    let import_id = store
        .start_import(
            req.workspace_id,
            kind,
            req.file_name,
            decoded.encoding.as_str(),
        )
        .await?;
    let mut tally = Tally::default();
    let mut errors: Vec<ImportRowError> = Vec::new();
    let now = crate::store::now_ms();
    let result = match format {
        CsvFormat::ShopifyCustomers => {
            let csv =
                CustomerCsv::new(decoded.text.as_bytes(), Some(source_id)).map_err(file_error)?;
            let mut batch: Vec<CustomerImportRow> = Vec::with_capacity(BATCH);
            let run = async |batch: &mut Vec<CustomerImportRow>,
                             tally: &mut Tally,
                             errors: &mut Vec<ImportRowError>|
                   -> AppResult<()> {
                let outcomes = store
                    .import_customers(req.workspace_id, req.actor, batch)
                    .await?;
                tally.record(batch.iter().map(|r| r.line), outcomes, errors);
                // Keep the planner's picture of the growing tables current (see
                // `Store::refresh_statistics`): after 2k, 20k and 200k rows.
                if [2_000, 20_000, 200_000]
                    .iter()
                    .any(|&n| tally.c[0] >= n && tally.c[0] - (batch.len() as i64) < n)
                {
                    store.refresh_statistics().await?;
                }
                batch.clear();
                progress(tally.c[0] as u64, estimate);
                Ok(())
            };
            for row in csv.rows() {
                match row {
                    Err(e) => {
                        tally.fail();
                        errors.push(row_error(e.line, e.code, e.field, e.message));
                    }
                    Ok(r) => match validate::customer(&r.customer, req.region, now) {
                        Ok(v) => batch.push(CustomerImportRow {
                            line: r.line,
                            customer: v,
                            company: r.company,
                            note: r.note,
                        }),
                        Err(e) => {
                            tally.fail();
                            errors.push(row_error(r.line, e.code, e.field, e.detail));
                        }
                    },
                }
                if batch.len() >= BATCH {
                    run(&mut batch, &mut tally, &mut errors).await?;
                }
            }
            run(&mut batch, &mut tally, &mut errors).await
        }
        CsvFormat::GenericOrders => {
            let csv =
                OrderCsv::new(decoded.text.as_bytes(), Some(source_id)).map_err(file_error)?;
            let mut batch: Vec<OrderImportRow> = Vec::with_capacity(BATCH);
            let run = async |batch: &mut Vec<OrderImportRow>,
                             tally: &mut Tally,
                             errors: &mut Vec<ImportRowError>|
                   -> AppResult<()> {
                let outcomes = store
                    .import_orders(req.workspace_id, req.actor, batch)
                    .await?;
                tally.record(batch.iter().map(|r| r.line), outcomes, errors);
                // Keep the planner's picture of the growing tables current (see
                // `Store::refresh_statistics`): after 2k, 20k and 200k rows.
                if [2_000, 20_000, 200_000]
                    .iter()
                    .any(|&n| tally.c[0] >= n && tally.c[0] - (batch.len() as i64) < n)
                {
                    store.refresh_statistics().await?;
                }
                batch.clear();
                progress(tally.c[0] as u64, estimate);
                Ok(())
            };
            for row in csv.rows() {
                match row {
                    Err(e) => {
                        tally.fail();
                        errors.push(row_error(e.line, e.code, e.field, e.message));
                    }
                    Ok(r) => {
                        let valid =
                            validate::customer(&r.customer, req.region, now).and_then(|c| {
                                let mut o = validate::order(&r.order, now)?;
                                o.refunded_minor = r.refunded_minor;
                                o.return_reason = r.return_reason.clone();
                                Ok((c, o))
                            });
                        match valid {
                            Ok((customer, order)) => batch.push(OrderImportRow {
                                line: r.first_line,
                                customer,
                                customer_id: None,
                                order,
                                history: None,
                            }),
                            Err(e) => {
                                tally.fail();
                                errors.push(row_error(r.first_line, e.code, e.field, e.detail));
                            }
                        }
                    }
                }
                if batch.len() >= BATCH {
                    run(&mut batch, &mut tally, &mut errors).await?;
                }
            }
            run(&mut batch, &mut tally, &mut errors).await
        }
    };
    errors.sort_by_key(|e| e.line);
    let stored = serde_json::to_value(errors.iter().take(STORED_ERRORS).collect::<Vec<_>>())
        .unwrap_or_default();
    let status = match &result {
        Ok(()) => "finished",
        Err(_) => "failed",
    };
    store.refresh_statistics().await?;
    let record = store
        .finish_import(
            req.workspace_id,
            req.actor,
            import_id,
            status,
            tally.c,
            &stored,
        )
        .await?;
    result?;
    Ok(ImportOutcome { record, errors })
}
