//! `edgefn:functions/tokens`.

use std::collections::BTreeMap;

use super::TokensCtx;
use crate::access::token::Resources;
use crate::access::{AccessError, GrantRequest as Grant, Permissions as Bits, Token};
use crate::wasm::bindings::tokens::{
    ChannelGrant, GrantRequest, Host, Permissions, ResourceGrants, TokenGrant, TokenGrants,
    TokenInfo,
};
use crate::wasm::bindings::types::Error;

/// WIT flags and token bits, in the same order.
const FLAGS: [(Permissions, Bits); 7] = [
    (Permissions::READ, Bits::READ),
    (Permissions::WRITE, Bits::WRITE),
    (Permissions::MANAGE, Bits::MANAGE),
    (Permissions::DELETE, Bits::DELETE),
    (Permissions::GET, Bits::GET),
    (Permissions::UPDATE, Bits::UPDATE),
    (Permissions::JOIN, Bits::JOIN),
];

impl TokensCtx {
    fn check_allowed(&self, what: &str) -> Result<(), Error> {
        if self.may_grant {
            return Ok(());
        }
        Err(Error::Denied(format!(
            "function `{}` may not {what} tokens: redeploy it with --allow-token-grant",
            self.function
        )))
    }
}

impl Host for TokensCtx {
    async fn grant(&mut self, request: TokenGrant) -> Result<String, Error> {
        self.check_allowed("grant")?;
        let meta = match request.meta.as_deref() {
            Some(text) => Some(
                serde_json::from_str(text)
                    .map_err(|_| Error::Invalid("`meta` must be a JSON object".into()))?,
            ),
            None => None,
        };
        let [channels, groups, uuids] = [request.channels, request.groups, request.uuids]
            .map(|grants| (to_bits(grants.names), to_bits(grants.patterns)));
        let grant = Grant {
            ttl_minutes: request.ttl_minutes,
            authorized_uuid: request.authorized_user,
            resources: Resources {
                channels: channels.0,
                groups: groups.0,
                uuids: uuids.0,
            },
            patterns: Resources {
                channels: channels.1,
                groups: groups.1,
                uuids: uuids.1,
            },
            meta,
            ..Grant::default()
        };
        self.access.grant(grant).map_err(access_error)
    }

    async fn parse(&mut self, token: String) -> Result<TokenGrants, Error> {
        let token: Token = Token::decode(&token)
            .map_err(|e| Error::Invalid(e.to_string()))?
            .token;
        let (names, patterns) = (&token.resources, &token.patterns);
        let grants = |names, patterns| ResourceGrants {
            names: to_flags(names),
            patterns: to_flags(patterns),
        };
        Ok(TokenGrants {
            issued_at: token.issued_at,
            ttl_minutes: token.ttl_minutes,
            authorized_user: token.authorized_uuid.clone(),
            channels: grants(&names.channels, &patterns.channels),
            groups: grants(&names.groups, &patterns.groups),
            uuids: grants(&names.uuids, &patterns.uuids),
            meta: (!token.meta.is_empty())
                .then(|| serde_json::Value::Object(token.meta.clone()).to_string()),
        })
    }

    async fn grant_token(&mut self, request: GrantRequest) -> Result<String, Error> {
        let none = || ResourceGrants {
            names: Vec::new(),
            patterns: Vec::new(),
        };
        let request = TokenGrant {
            ttl_minutes: request.ttl_minutes,
            authorized_user: request.authorized_user,
            channels: ResourceGrants {
                names: request.channels,
                patterns: request.channel_patterns,
            },
            groups: none(),
            uuids: none(),
            meta: request.meta,
        };
        self.grant(request).await
    }

    async fn revoke_token(&mut self, token: String) -> Result<(), Error> {
        self.check_allowed("revoke")?;
        self.access.revoke(&token).await.map_err(access_error)
    }

    async fn parse_token(&mut self, token: String) -> Result<TokenInfo, Error> {
        let all = self.parse(token).await?;
        Ok(TokenInfo {
            issued_at: all.issued_at,
            ttl_minutes: all.ttl_minutes,
            authorized_user: all.authorized_user,
            channels: all.channels.names,
            channel_patterns: all.channels.patterns,
            meta: all.meta,
        })
    }
}

fn to_bits(grants: Vec<ChannelGrant>) -> BTreeMap<String, Bits> {
    grants
        .into_iter()
        .map(|g| {
            let bits = FLAGS
                .iter()
                .filter(|(flag, _)| g.permissions.contains(*flag))
                .fold(Bits::default(), |set, (_, bit)| set.union(*bit));
            (g.name, bits)
        })
        .collect()
}

fn to_flags(grants: &BTreeMap<String, Bits>) -> Vec<ChannelGrant> {
    grants
        .iter()
        .map(|(name, bits)| ChannelGrant {
            name: name.clone(),
            permissions: FLAGS
                .iter()
                .filter(|(_, bit)| bits.contains(*bit))
                .fold(Permissions::empty(), |set, (flag, _)| set | *flag),
        })
        .collect()
}

fn access_error(e: AccessError) -> Error {
    match e {
        AccessError::BadGrant(_) | AccessError::Malformed(_) | AccessError::BadSignature => {
            Error::Invalid(e.to_string())
        }
        AccessError::Expired { .. } | AccessError::Revoked => Error::Invalid(e.to_string()),
        AccessError::NoKey => Error::Denied(e.to_string()),
        AccessError::Store(_) | AccessError::Cluster(_) => Error::Unavailable(e.to_string()),
        AccessError::Missing | AccessError::Forbidden { .. } | AccessError::WrongUser { .. } => {
            Error::Denied(e.to_string())
        }
    }
}
