//! Operating hookdesk: `/metrics` read by Prometheus's own parser, the probes, `hookdesk
//! backup` under load, and the retention purge.

mod backup;
mod metrics;
mod probes;
mod retention;

use serde::Deserialize;

/// One sample of a scrape, as the Prometheus client's parser read it.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `None` for NaN.
    pub value: Option<f64>,
}

/// A scrape, parsed.
pub struct Scrape(pub Vec<Sample>);

impl Scrape {
    /// The value of the sample `name` whose labels include `labels`; panics when none is.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).and_then(|s| s.value).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }

    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        self.0
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
    }

    /// The sum of every sample named `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .filter_map(|s| s.value)
            .sum()
    }
}

/// Which parser reads a scrape.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    OpenMetrics,
    Prometheus,
}

/// Parses `text` with the official Prometheus client's parser (Python's `prometheus_client`),
/// or `None` when that parser is not installed here (a skip, counted). With
/// `HOOKDESK_REQUIRE_METRICS_PARSER` set, as `.ci/run` sets it after installing the parser, it
/// must be there.
pub fn parse(text: &str, format: Format) -> Option<Scrape> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/operations/parse_metrics.py");
    let arg = match format {
        Format::OpenMetrics => "openmetrics",
        Format::Prometheus => "prometheus",
    };
    // `.ci/run` names Debian's python3 when it installed the parser there.
    let python = std::env::var("HOOKDESK_PYTHON").unwrap_or_else(|_| "python3".into());
    let available = std::process::Command::new(&python)
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let why = "python3 with prometheus_client not installed: .ci/run installs it";
        hookdesk_test_support::skip(
            "HOOKDESK_REQUIRE_METRICS_PARSER",
            "metrics scrapes not read by Prometheus' parser",
            why,
        );
        return None;
    }
    let mut child = std::process::Command::new(&python)
        .args([script, arg])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write the scrape");
    let output = child.wait_with_output().expect("the parser ends");
    assert!(
        output.status.success(),
        "Prometheus's {arg} parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(Scrape(serde_json::from_slice(&output.stdout).expect("the parser's JSON")))
}

/// `GET url` with `accept`; the content type and the body.
pub async fn get_text(url: &str, accept: Option<&str>) -> (reqwest::StatusCode, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, response.text().await.expect("a body"))
}

/// What Prometheus sends when it scrapes.
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
