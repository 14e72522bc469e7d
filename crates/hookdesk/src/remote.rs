//! Commands that work through a running server's API (`config export`, `config apply`,
//! `import zendesk`): they act as the admin whose token `HOOKDESK_TOKEN` holds, through the
//! same checks as any API call, and print what the server answered in words.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::output;

/// Where the server is.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's base URL. The admin API token is read from HOOKDESK_TOKEN.
    #[arg(long, env = "HOOKDESK_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: url::Url,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the server's configuration as a document (YAML, or JSON with --json).
    Export {
        #[command(flatten)]
        server: ServerArgs,
        /// JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
    /// Make the server's configuration what a document says (a .yaml/.yml or .json file, or
    /// - for standard input), and print the plan as a diff.
    Apply {
        /// The document.
        file: PathBuf,
        /// Only print the plan: change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete what a list of the document leaves out.
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the JSON Schema of a configuration document, for editors to check one with.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Create from Zendesk's exports (what its list endpoints answer: webhooks, triggers,
    /// automations, macros, one or several files of them) the same objects in hookdesk, and
    /// print what was created, skipped and why.
    Zendesk {
        /// JSON files as Zendesk's API returned them (`{"triggers": [...]}`, ...).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only report: create nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// An admin's API client for `server`.
struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

impl Client {
    fn new(server: &ServerArgs) -> anyhow::Result<Self> {
        let token = std::env::var("HOOKDESK_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .context("set HOOKDESK_TOKEN to an admin's API token (hookdesk admin-token prints one)")?;
        Ok(Self { http: reqwest::Client::new(), base: server.server.clone(), token: token.trim().to_owned() })
    }

    fn url(&self, path_and_query: &str) -> anyhow::Result<url::Url> {
        self.base.join(path_and_query).with_context(|| format!("{} cannot be joined with {path_and_query}", self.base))
    }

    /// Sends `request`; answers the body of a success, or fails with the server's error in
    /// words.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<String> {
        let response =
            request.bearer_auth(&self.token).send().await.with_context(|| {
                format!("cannot reach the server at {} (give its address with --server)", self.base)
            })?;
        let status = response.status();
        let body = response.text().await?;
        if status.is_success() {
            return Ok(body);
        }
        match serde_json::from_str::<Value>(&body) {
            Ok(error) if error["error"].is_object() => {
                let mut message = format!("{status}: {}", error["error"]["message"].as_str().unwrap_or_default());
                for detail in error["error"]["details"].as_array().into_iter().flatten() {
                    if let Some(field) = detail["field"].as_str() {
                        message.push_str(&format!("\n  at {field}"));
                    }
                }
                bail!(message)
            }
            _ => bail!("{status}: {body}"),
        }
    }
}

/// Whether `path` names a YAML document (by its extension; standard input is JSON when it
/// starts like it).
fn is_yaml(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => true,
        Some(_) => false,
        None => !text.trim_start().starts_with('{'),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin()).context("cannot read standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub async fn config(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Export { server, json } => {
            let client = Client::new(&server)?;
            let accept = if json { "application/json" } else { "application/yaml" };
            let request = client.http.get(client.url("api/v1/config")?).header("accept", accept);
            let document = client.send(request).await?;
            let document =
                if json { serde_json::to_string_pretty(&serde_json::from_str::<Value>(&document)?)? } else { document };
            Ok(output::println(document.trim_end())?)
        }
        ConfigCommand::Apply { file, dry_run, prune, server } => {
            let client = Client::new(&server)?;
            let text = read(&file)?;
            let content_type = if is_yaml(&file, &text) { "application/yaml" } else { "application/json" };
            let query = format!("api/v1/config?dry_run={dry_run}&prune={prune}");
            let request = client.http.put(client.url(&query)?).header("content-type", content_type).body(text);
            let answer: Value = serde_json::from_str(&client.send(request).await?)?;
            Ok(output::print(&plan_in_words(&answer))?)
        }
        ConfigCommand::Schema => {
            Ok(output::println(&serde_json::to_string_pretty(&hookdesk_server::app::document_schema())?)?)
        }
    }
}

/// A plan as a diff: `+` created, `~` changed (with its fields), `-` deleted; then the counts.
fn plan_in_words(answer: &Value) -> String {
    let mut lines = Vec::new();
    let steps = answer["plan"].as_array().cloned().unwrap_or_default();
    let count = |action: &str| steps.iter().filter(|s| s["action"] == action).count();
    for step in &steps {
        let (mark, action) = match step["action"].as_str() {
            Some("create") => ('+', "create"),
            Some("delete") => ('-', "delete"),
            _ => ('~', "update"),
        };
        let kind = step["kind"].as_str().unwrap_or_default().replace('_', " ");
        let name = step["name"].as_str().unwrap_or_default();
        let mut line = format!("{mark} {action} {kind} {name:?}");
        if let Some(changes) = step["changes"].as_object().filter(|c| !c.is_empty()) {
            line.push_str(": ");
            line.push_str(&changes.keys().cloned().collect::<Vec<_>>().join(", "));
        }
        lines.push(line);
    }
    for warning in answer["warnings"].as_array().into_iter().flatten() {
        lines.push(format!(
            "! {}: {}",
            warning["field"].as_str().unwrap_or_default(),
            warning["message"].as_str().unwrap_or_default()
        ));
    }
    let applied = if answer["applied"] == true { "applied" } else { "dry run: nothing applied" };
    lines.push(if steps.is_empty() {
        format!("nothing to change ({applied})")
    } else {
        format!(
            "{} to create, {} to change, {} to delete ({applied})",
            count("create"),
            count("update"),
            count("delete")
        )
    });
    lines.join("\n") + "\n"
}

pub async fn import(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Zendesk { files, dry_run, server } => {
            let client = Client::new(&server)?;
            // Each file is one of Zendesk's list answers; together, one import.
            let mut answers = Vec::new();
            for file in &files {
                let text = read(file)?;
                answers.push(
                    serde_json::from_str::<Value>(&text).with_context(|| format!("{} is not JSON", file.display()))?,
                );
            }
            let body = hookdesk_core::import::zendesk::merge(answers).map_err(|e| anyhow::anyhow!("{e}"))?;
            let query = format!("api/v1/imports/zendesk?dry_run={dry_run}");
            let request = client.http.post(client.url(&query)?).json(&body);
            let report: Value = serde_json::from_str(&client.send(request).await?)?;
            Ok(output::print(&report_in_words(&report, dry_run))?)
        }
    }
}

/// An import's report: what was created (or would be), skipped and why, and the warnings.
fn report_in_words(report: &Value, dry_run: bool) -> String {
    let mut lines = Vec::new();
    let verb = if dry_run { "would create" } else { "created" };
    for kind in ["webhooks", "triggers", "automations", "macros"] {
        let created = report["created"][kind].as_array().map_or(0, Vec::len);
        if created > 0 {
            lines.push(format!("{verb} {created} {kind}"));
        }
    }
    for skipped in report["skipped"].as_array().into_iter().flatten() {
        lines.push(format!(
            "skipped {} {} {:?}: {}",
            skipped["kind"].as_str().unwrap_or_default(),
            skipped["source_id"],
            skipped["title"].as_str().unwrap_or_default(),
            skipped["reason"].as_str().unwrap_or_default()
        ));
    }
    for warning in report["warnings"].as_array().into_iter().flatten() {
        lines.push(format!("warning: {}", warning.as_str().map_or_else(|| warning.to_string(), str::to_owned)));
    }
    if lines.is_empty() {
        lines.push("nothing to import".into());
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_plan_reads_as_a_diff() {
        let answer = json!({"applied": false, "plan": [
            {"action": "create", "kind": "webhook", "name": "Intranet", "changes": {}},
            {"action": "update", "kind": "trigger", "name": "Send", "changes": {"actions": {}, "position": {}}},
            {"action": "delete", "kind": "inbound_webhook", "name": "Old", "changes": {}}]});
        assert_eq!(
            plan_in_words(&answer),
            "+ create webhook \"Intranet\"\n~ update trigger \"Send\": actions, position\n- delete inbound webhook \"Old\"\n1 to create, 1 to change, 1 to delete (dry run: nothing applied)\n"
        );
        assert_eq!(plan_in_words(&json!({"applied": true, "plan": []})), "nothing to change (applied)\n");
    }
}
