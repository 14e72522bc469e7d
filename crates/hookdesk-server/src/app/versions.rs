//! What admins edit (webhooks, triggers, automations, macros, inbound webhooks): its version
//! and what a save of it would warn about.
//!
//! Versions of what admins edit (webhooks, triggers, automations, macros, inbound webhooks):
//! a digest of what the API shows of an object, sent as its `ETag`. A write that names the
//! version it read (`If-Match`, or the editor's hidden field) is refused when the object
//! changed since: two tabs editing one trigger no longer lose the first one's changes.

use hookdesk_core::id::{InboundWebhookId, MacroId, RuleId, WebhookId};
use hookdesk_core::rules::RuleSet;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;

use super::checks::Webhooks;
use super::{Agent, App, AppError};
use hookdesk_core::Invalid;

/// The version of `item`: a digest of its JSON, what changes on its own (a webhook's health)
/// left out.
pub fn version_of(item: &impl Serialize) -> String {
    let mut json = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Some(object) = json.as_object_mut() {
        object.remove("health");
        object.remove("warnings");
    }
    let digest = sha2::Sha256::digest(json.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// An object whose version a write may name.
#[derive(Debug, Clone, Copy)]
pub enum Editable<'a> {
    Rule(RuleSet, RuleId),
    Macro(MacroId),
    Webhook(&'a WebhookId),
    InboundWebhook(&'a InboundWebhookId),
}

impl App {
    /// The version of `object` now.
    pub async fn version(&self, caller: &Agent, object: Editable<'_>) -> Result<String, AppError> {
        Ok(match object {
            Editable::Rule(set, id) => version_of(&self.rule(caller, set, id).await?),
            Editable::Macro(id) => version_of(&self.macro_by_id(caller, id).await?),
            Editable::Webhook(id) => version_of(&self.webhook(&caller.as_admin()?, id).await?),
            Editable::InboundWebhook(id) => version_of(&self.inbound_webhook(&caller.as_admin()?, id).await?),
        })
    }

    /// What a save of `object` as it stands would warn about (a template that asks for a
    /// variable the sample lacks, a destination the SSRF guard refuses): editors show it
    /// beside its field, not only right after the save.
    pub async fn warnings(&self, caller: &Agent, object: Editable<'_>) -> Result<Vec<Invalid>, AppError> {
        let checked = match object {
            Editable::Rule(set, id) => {
                let rule = self.rule(caller, set, id).await?;
                self.check_rule_templates(set.one(), &rule.rule.title, &rule.rule.actions, Webhooks::Stored).await
            }
            Editable::Macro(id) => {
                let found = self.macro_by_id(caller, id).await?;
                self.check_rule_templates("macro", &found.title, &found.actions, Webhooks::Stored).await
            }
            Editable::Webhook(id) => {
                let webhook = self.find_webhook(id).await?;
                self.check_webhook_templates(&webhook).await.map_err(AppError::from)
            }
            Editable::InboundWebhook(_) => Ok(Vec::new()),
        };
        match checked {
            Ok(warnings) => Ok(warnings),
            // Saved once, refused now (its webhook changed format, say): worth a warning.
            Err(AppError::Invalid(refused)) => Ok(vec![refused]),
            Err(other) => Err(other),
        }
    }

    /// Refuses (412 `version_conflict`) when `expected` is given and `object` is no longer at
    /// that version; without one, the last write wins.
    pub async fn expect_version(
        &self,
        caller: &Agent,
        object: Editable<'_>,
        expected: Option<&str>,
    ) -> Result<(), AppError> {
        let Some(expected) = expected else { return Ok(()) };
        let now = self.version(caller, object).await?;
        if now != expected {
            return Err(AppError::VersionConflict(now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_changes_with_the_object_and_not_with_its_health() {
        let a = version_of(&serde_json::json!({"name": "a", "health": {"failing": false}}));
        let b = version_of(&serde_json::json!({"name": "a", "health": {"failing": true}}));
        let c = version_of(&serde_json::json!({"name": "c", "health": {"failing": false}}));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }
}
