//! A configuration written in one transaction: every webhook, rule, macro and inbound webhook
//! a plan creates, changes or deletes is committed together, or none of it.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{InboundWebhookId, MacroId, RuleId, WebhookId};
use hookdesk_core::inbound::InboundWebhook;
use hookdesk_core::rules::RuleSet;
use hookdesk_core::webhook::Webhook;

use crate::cipher::Cipher;
use crate::db::Tx;
use crate::{NewMacro, NewTrigger, NewWebhook, Store, StoreError};

/// An open configuration transaction; dropped without [`ConfigTx::commit`], it changes
/// nothing.
pub struct ConfigTx {
    tx: Tx,
    cipher: Cipher,
}

impl Store {
    pub async fn begin_config(&self) -> Result<ConfigTx, StoreError> {
        Ok(ConfigTx { tx: self.begin_write().await?, cipher: self.cipher.clone() })
    }
}

impl ConfigTx {
    pub async fn create_webhook(&mut self, new: NewWebhook<'_>) -> Result<(), StoreError> {
        crate::webhooks::insert_webhook(&mut self.tx, &self.cipher, new).await
    }

    pub async fn update_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError> {
        crate::webhooks::update_webhook(&mut self.tx, &self.cipher, webhook).await
    }

    pub async fn delete_webhook(&mut self, id: &WebhookId, now: Timestamp) -> Result<(), StoreError> {
        crate::webhooks::delete_webhook(&mut self.tx, id, now).await
    }

    pub async fn create_rule(&mut self, set: RuleSet, new: &NewTrigger, now: Timestamp) -> Result<RuleId, StoreError> {
        crate::triggers::insert_rule(&mut self.tx, set, new, now).await
    }

    pub async fn update_rule(
        &mut self,
        set: RuleSet,
        id: RuleId,
        new: &NewTrigger,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        crate::triggers::update_rule(&mut self.tx, set, id, new, now).await
    }

    pub async fn delete_rule(&mut self, set: RuleSet, id: RuleId) -> Result<(), StoreError> {
        crate::triggers::delete_rule(&mut self.tx, set, id).await
    }

    pub async fn create_macro(&mut self, new: &NewMacro, now: Timestamp) -> Result<MacroId, StoreError> {
        crate::macros::insert_macro(&mut self.tx, new, now).await
    }

    pub async fn update_macro(&mut self, id: MacroId, new: &NewMacro, now: Timestamp) -> Result<(), StoreError> {
        crate::macros::update_macro(&mut self.tx, id, new, now).await
    }

    pub async fn delete_macro(&mut self, id: MacroId) -> Result<(), StoreError> {
        crate::macros::delete_macro(&mut self.tx, id).await
    }

    /// Writes an inbound webhook (new, or over the one with its id) with its token's hash.
    pub async fn save_inbound_webhook(
        &mut self,
        webhook: &InboundWebhook,
        token_hash: &str,
        create: bool,
    ) -> Result<(), StoreError> {
        crate::inbound::save_inbound_webhook(&mut self.tx, &self.cipher, webhook, token_hash, create).await
    }

    pub async fn delete_inbound_webhook(&mut self, id: &InboundWebhookId) -> Result<(), StoreError> {
        crate::inbound::delete_inbound_webhook(&mut self.tx, id).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
