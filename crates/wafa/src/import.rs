//! CSV import: decode, recognise the format, validate each row, write in batches, report.
//!
//! The parsing of the file formats lives in `wafa-ingest` (pure); validation is the same as
//! the API's ([`crate::validate`]); writing is the store's batch path. A file-level problem
//! (encoding, header) stops before anything is written; a bad row is reported with its line
//! and the rest still import. Re-importing a file changes nothing: customers resolve by
//! their external id / email / phone and orders by their external id.

use crate::error::{AppError, AppResult};
use crate::store::{
    CustomerImportRow, ImportBatch, ImportRecord, OrderImportRow, RowOutcome, RowResult, Store,
};
use crate::validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use wafa_domain::{ErrorCode, Region};
use wafa_ingest::csv_import::{decode, detect_format, CsvFormat, CustomerCsv, FileError, OrderCsv};

/// Rows per batch. Why 2,000 rather than 500: each batch pays fixed costs (its identity and
/// order lookups, a few multi-row statements each, some prepared anew); measured at 100k
/// customers / 500k order lines, 33,000–37,100 rows/s instead of 29,500–30,900; at 1M / 5M,
/// where disk writes dominate, the same (22,530 against 22,700). A batch holds the writer for
/// well under 100 ms, which is also what an acknowledgement can wait.
pub const BATCH: usize = 2000;
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
    /// Count committed rows' outcomes; failed rows become errors with their lines.
    fn record(&mut self, outcomes: Vec<(u64, RowResult)>, errors: &mut Vec<ImportRowError>) {
        for (line, out) in outcomes {
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

/// Rows parsed and validated, ready for the writer, with the rows that failed before it.
struct Parsed {
    rows: ImportBatch,
    errors: Vec<ImportRowError>,
    /// The file line of the batch's last row (good or bad), for progress in CSV lines.
    last_line: u64,
}

/// An imported order's status history: what the file says, no more. A file gives the
/// order's placement time and its status now, so the history is "placed", then that status
/// (at the only time the file gives). Why not the full path the status implies (paid,
/// fulfilled, shipped, delivered, all at the placement time): those steps would be invented,
/// and they were half the rows an order import wrote.
fn file_history(
    order: &crate::validate::ValidOrder,
) -> Vec<(wafa_domain::OrderStatus, i64, Option<String>)> {
    use wafa_domain::OrderStatus::Placed;
    let mut h = vec![(Placed, order.placed_at, None)];
    if order.status != Placed {
        h.push((order.status, order.placed_at, order.return_reason.clone()));
    }
    h
}

/// Gathers parsed rows into batches of `size` rows (the good rows and the errors met on the
/// way) and hands each to the writer.
struct Batcher<'a, T> {
    tx: &'a tokio::sync::mpsc::Sender<Parsed>,
    wrap: fn(Vec<T>) -> ImportBatch,
    line_of: fn(&T) -> u64,
    size: usize,
    rows: Vec<T>,
    errors: Vec<ImportRowError>,
    last_line: u64,
}

impl<'a, T> Batcher<'a, T> {
    fn new(
        tx: &'a tokio::sync::mpsc::Sender<Parsed>,
        wrap: fn(Vec<T>) -> ImportBatch,
        line_of: fn(&T) -> u64,
        size: usize,
    ) -> Self {
        Batcher {
            tx,
            wrap,
            line_of,
            size,
            rows: Vec::with_capacity(size),
            errors: Vec::new(),
            last_line: 0,
        }
    }
    /// `false` when the writer has gone away.
    fn push(&mut self, row: Result<T, ImportRowError>) -> bool {
        match row {
            Ok(r) => {
                self.last_line = self.last_line.max((self.line_of)(&r));
                self.rows.push(r)
            }
            Err(e) => {
                self.last_line = self.last_line.max(e.line);
                self.errors.push(e)
            }
        }
        self.rows.len() + self.errors.len() < self.size || self.flush()
    }
    fn flush(&mut self) -> bool {
        let rows = (self.wrap)(std::mem::replace(
            &mut self.rows,
            Vec::with_capacity(self.size),
        ));
        let errors = std::mem::take(&mut self.errors);
        let last_line = self.last_line;
        self.tx
            .blocking_send(Parsed {
                rows,
                errors,
                last_line,
            })
            .is_ok()
    }
}

/// Parse and validate the whole file, sending batches of `batch_rows` rows to the writer.
/// Stops early (without error) when the writer has gone away.
fn parse_file(
    format: CsvFormat,
    text: &str,
    source_id: i64,
    region: Region,
    now: i64,
    batch_rows: usize,
    tx: &tokio::sync::mpsc::Sender<Parsed>,
) -> Result<(), FileError> {
    match format {
        CsvFormat::ShopifyCustomers => {
            let csv = CustomerCsv::new(text.as_bytes(), Some(source_id))?;
            let mut batches = Batcher::new(tx, ImportBatch::Customers, |r| r.line, batch_rows);
            for row in csv.rows() {
                let row = match row {
                    Err(e) => Err(row_error(e.line, e.code, e.field, e.message)),
                    Ok(r) => match validate::customer(&r.customer, region, now) {
                        Ok(v) => Ok(CustomerImportRow {
                            line: r.line,
                            customer: v,
                            company: r.company,
                            note: r.note,
                        }),
                        Err(e) => Err(row_error(r.line, e.code, e.field, e.detail)),
                    },
                };
                if !batches.push(row) {
                    return Ok(());
                }
            }
            batches.flush();
        }
        CsvFormat::GenericOrders => {
            let csv = OrderCsv::new(text.as_bytes(), Some(source_id))?;
            let mut batches = Batcher::new(tx, ImportBatch::Orders, |r| r.line, batch_rows);
            for row in csv.rows() {
                let row = match row {
                    Err(e) => Err(row_error(e.line, e.code, e.field, e.message)),
                    Ok(r) => {
                        let valid = validate::customer(&r.customer, region, now).and_then(|c| {
                            let mut o = validate::order(&r.order, now)?;
                            o.refunded_minor = r.refunded_minor;
                            o.return_reason = r.return_reason.clone();
                            Ok((c, o))
                        });
                        match valid {
                            Ok((customer, order)) => Ok(OrderImportRow {
                                line: r.first_line,
                                history: Some(file_history(&order)),
                                customer,
                                customer_id: None,
                                order,
                            }),
                            Err(e) => Err(row_error(r.first_line, e.code, e.field, e.detail)),
                        }
                    }
                };
                if !batches.push(row) {
                    return Ok(());
                }
            }
            batches.flush();
        }
    }
    Ok(())
}

/// What an import leaves to its end (stale order counters, deferred indexes), finished in
/// the background if the import's future is dropped before then: an HTTP import is
/// cancelled when its client disconnects, and the server would otherwise run without those
/// indexes until its next start.
struct FinishOnDrop(Option<Store>);

impl FinishOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        let Some(store) = self.0.take() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return; // no runtime left (process exit): the next start finishes it
        };
        rt.spawn(async move {
            let finished = async {
                store.refresh_stale_counters().await?;
                store.restore_deferred_indexes().await
            };
            if let Err(e) = finished.await {
                tracing::warn!(error = %e, "finishing a cancelled import; the next start retries");
            }
        });
    }
}

/// Where the parser's text comes from (see [`text_in_place`]).
enum OwnedText {
    /// Transcoded (Windows-1256, UTF-16): a new string already.
    Decoded(String),
    /// UTF-8: this range of the file's bytes (without a byte-order mark).
    Within(std::ops::Range<usize>),
}

fn owned_text(text: std::borrow::Cow<'_, str>, bytes: &[u8]) -> OwnedText {
    match text {
        std::borrow::Cow::Owned(t) => OwnedText::Decoded(t),
        std::borrow::Cow::Borrowed(t) => {
            let start = (t.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
            OwnedText::Within(start..start + t.len())
        }
    }
}

/// The UTF-8 text at `range` of `bytes`, in the same buffer.
///
/// Why not a copy: the parser runs on a thread of its own and needs the text owned, and a
/// copy of the benchmark's 763 MB orders file took 1.6 s before parsing could start and
/// held the file in memory twice.
fn text_in_place(mut bytes: Vec<u8>, range: std::ops::Range<usize>) -> AppResult<String> {
    bytes.truncate(range.end);
    bytes.drain(..range.start);
    String::from_utf8(bytes).map_err(|e| AppError::internal(format!("decoded text: {e}")))
}

/// Import a CSV file's bytes. `progress(lines_done, lines)` is called after each batch, in CSV
/// lines (an order of several lines counts them all), and once more when the file is done.
/// The bytes are taken, not borrowed: a UTF-8 file becomes the parser's text in place.
pub async fn import_csv(
    store: &Store,
    req: ImportRequest<'_>,
    bytes: Vec<u8>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> AppResult<ImportOutcome> {
    let decoded = decode(&bytes).map_err(file_error)?;
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
    let finish_if_dropped = FinishOnDrop(Some(store.clone()));
    // A large order file on SQLite builds three secondary indexes once at the end instead of
    // row by row (see `store/deferred_indexes.rs`); they are built again below, also when
    // the import fails.
    if format == CsvFormat::GenericOrders {
        store.defer_indexes_for_order_import(estimate).await?;
    }
    // Parsing and validation run on a blocking thread, a few batches ahead of the writer,
    // so the two overlap (on SQLite the writer is the bottleneck; parsing was a third of
    // the import's time when it ran between the batches).
    let text = owned_text(decoded.text, &bytes);
    let text = match text {
        OwnedText::Decoded(t) => t,
        OwnedText::Within(range) => text_in_place(bytes, range)?,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(4);
    let region = req.region;
    let now = crate::store::now_ms();
    let batch_rows = if store.is_bulk_load(estimate) {
        store.bulk_load_batch_rows()
    } else {
        BATCH
    };
    let parser = tokio::task::spawn_blocking(move || {
        parse_file(format, &text, source_id, region, now, batch_rows, &tx)
    });
    let mut tally = Tally::default();
    let mut errors: Vec<ImportRowError> = Vec::new();
    // Rows handed to the writer but not yet committed (they count once committed).
    let mut in_flight: i64 = 0;
    let mut writer = store.import_writer(req.workspace_id, req.actor);
    let result: AppResult<()> = async {
        // The batch after the current one: the writer queues its lookups ahead of the
        // current batch's inserts (see `ImportWriter::write`). Waiting for it costs nothing
        // while the parser is ahead, and one batch's parsing at most when it is not.
        let mut next = rx.recv().await;
        while let Some(batch) = next.take() {
            next = rx.recv().await;
            for e in batch.errors {
                tally.fail();
                errors.push(e);
            }
            let before = tally.c[0] + in_flight;
            in_flight += batch.rows.len() as i64;
            writer
                .write(batch.rows, next.as_ref().map(|n| &n.rows))
                .await?;
            let done = tally.c[0] + in_flight;
            // Keep the planner's picture of the growing tables current (see
            // `Store::refresh_statistics`): after 2k, 20k and 200k rows.
            let refresh = [2_000, 20_000, 200_000]
                .iter()
                .any(|&n| done >= n && before < n);
            let committed = if refresh {
                let c = writer.commit().await?;
                store.refresh_statistics().await?;
                c
            } else {
                writer.after_batch().await?
            };
            in_flight -= committed.len() as i64;
            tally.record(committed, &mut errors);
            // Lines up to the batch's last row (its own further lines, if it is an order of
            // several, are counted with the next batch); line 1 is the header.
            progress(batch.last_line.saturating_sub(1).min(estimate), estimate);
        }
        progress(estimate, estimate);
        let committed = writer.commit().await?;
        tally.record(committed, &mut errors);
        match parser.await {
            Ok(r) => r.map_err(file_error),
            Err(e) => Err(AppError::internal(format!("CSV parser stopped: {e}"))),
        }
    }
    .await;
    drop(writer);
    // The customers' order counters, which the bulk path leaves to this recount (see
    // `bulk::orders`); also after a failed import, for the batches it committed. Then the
    // indexes a bulk load deferred, after the recount, which would move entries in one.
    store.refresh_stale_counters().await?;
    store.restore_deferred_indexes().await?;
    finish_if_dropped.disarm();
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
