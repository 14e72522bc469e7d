//! Bringing another helpdesk's rules and webhooks over: Zendesk's exports mapped by the core
//! (`import::zendesk`) to a configuration document of new objects, applied as any document
//! is (the same checks, one transaction), after the server's own rules.

use std::collections::HashSet;

use hookdesk_core::import::zendesk::{self, Skipped, TakenNames};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Admin, App, AppError, ApplyOptions};

/// What an import made, or would make.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportCreated {
    /// hookdesk ids (with `dry_run`, the names the objects would take).
    pub webhooks: Vec<Value>,
    pub triggers: Vec<Value>,
    pub automations: Vec<Value>,
    pub macros: Vec<Value>,
}

/// What `POST /imports/zendesk` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: ImportCreated,
    /// What was not imported, and exactly why.
    pub skipped: Vec<Skipped>,
    /// What was imported other than as it was (inactive, a secret missing), and what the
    /// checks could not settle.
    pub warnings: Vec<String>,
    /// Whether this only reported (nothing was written).
    pub dry_run: bool,
}

impl App {
    /// Imports what Zendesk's list endpoints returned (`webhooks`, `triggers`, `automations`,
    /// `macros`, and `credentials` by Zendesk webhook id): each object it can map is created,
    /// all in one transaction; the rest is reported. New names never take one in use.
    pub async fn import_zendesk(
        &self,
        caller: &Admin,
        export: &Value,
        dry_run: bool,
    ) -> Result<ImportReport, AppError> {
        let current = self.current_config().await?;
        let mut taken = TakenNames::new();
        taken.insert("webhooks", current.webhooks.iter().map(|w| w.name.clone()).collect());
        taken.insert("triggers", current.triggers.iter().map(|t| t.rule.title.clone()).collect());
        taken.insert("automations", current.automations.iter().map(|t| t.rule.title.clone()).collect());
        taken.insert("macros", current.macros.iter().map(|m| m.title.clone()).collect());
        let mapped = zendesk::map(export, &taken)?;
        let names = |section: &str| -> Vec<String> {
            mapped.document[section]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.get("name").or_else(|| o.get("title")).and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        let wanted = [names("webhooks"), names("triggers"), names("automations"), names("macros")];
        let options = ApplyOptions { dry_run, prune: false, append: true };
        // Every secret is in the document itself (from `credentials`): no environment.
        let nothing = |_: &str| None;
        let plan = self.apply_config(caller, &Value::Object(mapped.document.clone()), options, &nothing).await?;
        let mut warnings = mapped.warnings;
        warnings.extend(plan.warnings.iter().map(ToString::to_string));
        let created = if dry_run {
            let [webhooks, triggers, automations, macros] =
                wanted.map(|names| names.into_iter().map(Value::from).collect());
            ImportCreated { webhooks, triggers, automations, macros }
        } else {
            let now = self.current_config().await?;
            let pick = |names: &[String]| -> HashSet<String> { names.iter().cloned().collect() };
            let [webhooks, triggers, automations, macros] = wanted.map(|names| pick(&names));
            ImportCreated {
                webhooks: now
                    .webhooks
                    .iter()
                    .filter(|w| webhooks.contains(&w.name))
                    .map(|w| Value::from(w.id.to_string()))
                    .collect(),
                triggers: now
                    .triggers
                    .iter()
                    .filter(|t| triggers.contains(&t.rule.title))
                    .map(|t| Value::from(t.rule.id.0))
                    .collect(),
                automations: now
                    .automations
                    .iter()
                    .filter(|t| automations.contains(&t.rule.title))
                    .map(|t| Value::from(t.rule.id.0))
                    .collect(),
                macros: now.macros.iter().filter(|m| macros.contains(&m.title)).map(|m| Value::from(m.id.0)).collect(),
            }
        };
        Ok(ImportReport { created, skipped: mapped.skipped, warnings, dry_run })
    }
}
