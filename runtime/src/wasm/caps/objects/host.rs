//! `edgefn:functions/objects`.

use serde_json::{Map, Value, json};

use super::{ObjectsCtx, membership_fields, metadata_fields};
use crate::objects::{Include, Kind, ListPage, MembershipInclude, ObjectError};
use crate::wasm::bindings::objects::{
    Host, IncludeFields, ListOptions, Membership, MembershipFields, MetadataKind, ObjectPage,
};
use crate::wasm::bindings::types::Error;

impl ObjectsCtx {
    /// Applies `change` (PubNub's membership PATCH body, and the eTag it
    /// is conditional on), if any, to the memberships of `id`, then
    /// answers the listing `options` ask for. The listing is checked
    /// first, so a bad one changes nothing.
    async fn memberships(
        &mut self,
        (kind, id): (MetadataKind, String),
        change: Option<(Value, Option<String>)>,
        (options, include): (ListOptions, MembershipFields),
    ) -> Result<ObjectPage, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let kind = domain_kind(kind);
        let query = super::list_query(&options, membership_fields(kind)).map_err(error)?;
        if let Some((changes, if_match)) = change {
            let by = self.author.clone();
            let changed = self
                .context
                .manage_memberships(kind, id.clone(), changes, if_match, by);
            changed.await.map_err(error)?;
        }
        let page = self.context.memberships(kind, id, query).await;
        let include = membership_included(include);
        let count = options.include_total_count;
        Ok(object_page(
            page.map_err(error)?,
            count,
            |(membership, other)| membership.view(kind, other.as_ref(), &include),
        ))
    }
}

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
        let query = super::list_query(&options, metadata_fields(kind)).map_err(error)?;
        let page = self.context.list(kind, query).await.map_err(error)?;
        let include = included(include);
        Ok(object_page(page, count, |o| o.view(kind, include)))
    }

    async fn get_memberships(
        &mut self,
        kind: MetadataKind,
        id: String,
        options: ListOptions,
        include: MembershipFields,
    ) -> Result<ObjectPage, Error> {
        self.memberships((kind, id), None, (options, include)).await
    }

    async fn set_memberships(
        &mut self,
        kind: MetadataKind,
        id: String,
        memberships: Vec<Membership>,
        if_match: Option<String>,
        options: ListOptions,
        include: MembershipFields,
    ) -> Result<ObjectPage, Error> {
        let end = domain_kind(kind).other().as_str();
        let set = memberships
            .into_iter()
            .map(|m| {
                let mut item: Map<String, Value> = match m.fields {
                    Some(text) => serde_json::from_str(&text).map_err(|e| {
                        Error::Invalid(format!(
                            "the fields of the membership with `{}` must be a JSON object: {e}",
                            m.id
                        ))
                    })?,
                    None => Map::new(),
                };
                item.insert(end.into(), json!({ "id": m.id }));
                Ok(Value::Object(item))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let changes = json!({ "set": set });
        self.memberships((kind, id), Some((changes, if_match)), (options, include))
            .await
    }

    async fn remove_memberships(
        &mut self,
        kind: MetadataKind,
        id: String,
        others: Vec<String>,
        if_match: Option<String>,
        options: ListOptions,
        include: MembershipFields,
    ) -> Result<ObjectPage, Error> {
        let end = domain_kind(kind).other().as_str();
        let delete: Vec<Value> = others
            .into_iter()
            .map(|other| {
                let mut item = Map::new();
                item.insert(end.into(), json!({ "id": other }));
                Value::Object(item)
            })
            .collect();
        let changes = json!({ "delete": delete });
        self.memberships((kind, id), Some((changes, if_match)), (options, include))
            .await
    }
}

/// `page` with each item as `view` makes it, counted when `count`.
fn object_page<T>(page: ListPage<T>, count: bool, view: impl Fn(&T) -> Value) -> ObjectPage {
    ObjectPage {
        objects: page.objects.iter().map(|o| view(o).to_string()).collect(),
        total_count: count.then(|| u32::try_from(page.total).unwrap_or(u32::MAX)),
        next: page.next,
        prev: page.prev,
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

fn membership_included(include: MembershipFields) -> MembershipInclude {
    let other_custom = include.contains(MembershipFields::OTHER_CUSTOM);
    MembershipInclude {
        own: Include {
            custom: include.contains(MembershipFields::CUSTOM),
            status: include.contains(MembershipFields::STATUS),
            kind: include.contains(MembershipFields::TYPE),
        },
        total_count: false,
        other_fields: include.contains(MembershipFields::OTHER) || other_custom,
        other: Include {
            custom: other_custom,
            status: include.contains(MembershipFields::OTHER_STATUS),
            kind: include.contains(MembershipFields::OTHER_TYPE),
        },
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
