//! `edgefn:functions/objects`.

use serde_json::{Map, Value};

use super::ObjectsCtx;
use crate::objects::{Include, Kind, ObjectError};
use crate::wasm::bindings::objects::{Host, IncludeFields, ListOptions, MetadataKind, ObjectPage};
use crate::wasm::bindings::types::Error;

impl Host for ObjectsCtx {
    async fn get_metadata(
        &mut self,
        kind: MetadataKind,
        id: String,
        include: IncludeFields,
    ) -> Result<Option<String>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let kind = domain_kind(kind);
        match self.context.get(kind, id).await {
            Ok(object) => Ok(Some(object.view(kind, included(include)).to_string())),
            Err(ObjectError::NotFound) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }

    async fn set_metadata(
        &mut self,
        kind: MetadataKind,
        id: String,
        fields: String,
        if_match: Option<String>,
        include: IncludeFields,
    ) -> Result<String, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let kind = domain_kind(kind);
        let patch: Map<String, Value> = serde_json::from_str(&fields)
            .map_err(|e| Error::Invalid(format!("the fields to set must be a JSON object: {e}")))?;
        let object = self
            .context
            .set(kind, id, patch, if_match, self.author.clone())
            .await
            .map_err(error)?;
        Ok(object.view(kind, included(include)).to_string())
    }

    async fn remove_metadata(
        &mut self,
        kind: MetadataKind,
        id: String,
        if_match: Option<String>,
    ) -> Result<bool, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        self.context
            .remove(domain_kind(kind), id, if_match, self.author.clone())
            .await
            .map_err(error)
    }

    async fn get_all_metadata(
        &mut self,
        kind: MetadataKind,
        options: ListOptions,
        include: IncludeFields,
    ) -> Result<ObjectPage, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let kind = domain_kind(kind);
        let count = options.include_total_count;
        let query = super::list_query(kind, &options).map_err(error)?;
        let page = self.context.list(kind, query).await.map_err(error)?;
        let include = included(include);
        Ok(ObjectPage {
            objects: page
                .objects
                .iter()
                .map(|o| o.view(kind, include).to_string())
                .collect(),
            total_count: count.then(|| u32::try_from(page.total).unwrap_or(u32::MAX)),
            next: page.next,
            prev: page.prev,
        })
    }
}

fn domain_kind(kind: MetadataKind) -> Kind {
    match kind {
        MetadataKind::Uuid => Kind::Uuid,
        MetadataKind::Channel => Kind::Channel,
    }
}

fn included(include: IncludeFields) -> Include {
    Include {
        custom: include.contains(IncludeFields::CUSTOM),
        status: include.contains(IncludeFields::STATUS),
        kind: include.contains(IncludeFields::TYPE),
    }
}

fn error(e: ObjectError) -> Error {
    match e {
        ObjectError::Invalid { message, .. } => Error::Invalid(message),
        ObjectError::NotFound => Error::Invalid(e.to_string()),
        ObjectError::Modified(_) => Error::Rejected(e.to_string()),
        ObjectError::Unavailable(_) => Error::Unavailable(e.to_string()),
    }
}
