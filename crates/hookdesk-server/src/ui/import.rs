//! Import from Zendesk in the UI: paste or choose Zendesk's answers, preview what the import
//! creates and skips (and why), then import. The same mapping and checks as the API's.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{Chrome, Submitted, UiError, Viewer, render};
use crate::app::{App, AppError, ImportReport};

/// A report as lines to read.
struct ReportView {
    dry_run: bool,
    created: Vec<String>,
    skipped: Vec<String>,
    warnings: Vec<String>,
}

impl ReportView {
    fn new(report: &ImportReport) -> Self {
        let lines = |kind: &str, items: &[Value]| -> Vec<String> {
            items
                .iter()
                .map(|item| format!("{kind} {}", item.as_str().map_or_else(|| item.to_string(), str::to_owned)))
                .collect()
        };
        let created = &report.created;
        Self {
            dry_run: report.dry_run,
            created: [
                lines("webhook", &created.webhooks),
                lines("trigger", &created.triggers),
                lines("automation", &created.automations),
                lines("macro", &created.macros),
            ]
            .concat(),
            skipped: report
                .skipped
                .iter()
                .map(|s| format!("{} {} ({}): {}", s.kind, s.title, s.source_id, s.reason))
                .collect(),
            warnings: report.warnings.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/import.html")]
struct ImportPage {
    chrome: Chrome,
    export: String,
    credentials: String,
    report: Option<ReportView>,
    error: Option<String>,
}

/// `GET /ui/import`.
pub async fn form(viewer: Viewer) -> Result<Response, UiError> {
    viewer.admin()?;
    let page = ImportPage {
        chrome: viewer.chrome("Triggers"),
        export: String::new(),
        credentials: String::new(),
        report: None,
        error: None,
    };
    Ok(render(&page))
}

/// Zendesk's answers pasted one after the other, as one import.
fn read_export(export: &str, credentials: &str) -> Result<Value, String> {
    let answers = serde_json::Deserializer::from_str(export)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("Zendesk's answers are not JSON: {e}"))?;
    let mut export = hookdesk_core::import::zendesk::merge(answers).map_err(|e| e.to_string())?;
    if !credentials.trim().is_empty() {
        let credentials: Value =
            serde_json::from_str(credentials).map_err(|e| format!("the secrets are not JSON: {e}"))?;
        export["credentials"] = credentials;
    }
    Ok(export)
}

/// `POST /ui/import`: a preview (`action=preview`) or the import.
pub async fn run(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let export_text = form.fields.get("export").unwrap_or_default().to_owned();
    let credentials = form.fields.get("credentials").unwrap_or_default().to_owned();
    let dry_run = form.fields.get("action") != Some("import");
    let mut page = ImportPage {
        chrome: form.viewer.chrome("Triggers"),
        export: export_text.clone(),
        credentials: credentials.clone(),
        report: None,
        error: None,
    };
    let outcome = match read_export(&export_text, &credentials) {
        Ok(export) => app.import_zendesk(&admin, &export, dry_run).await.map_err(|e| match e {
            AppError::Invalid(invalid) => Ok(invalid.to_string()),
            other => Err(other),
        }),
        Err(message) => Err(Ok(message)),
    };
    match outcome {
        Ok(report) => {
            page.report = Some(ReportView::new(&report));
            if !dry_run {
                // Imported: what stays on the page is the report, not the text to import again.
                page.export.clear();
                page.credentials.clear();
            }
            Ok(render(&page))
        }
        Err(Ok(message)) => {
            page.error = Some(message);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(Err(other)) => Err(other.into()),
    }
}
