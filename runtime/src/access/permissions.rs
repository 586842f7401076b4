//! Permission bits, as PubNub Access Manager v3 encodes them.

use std::fmt;

/// A set of permissions on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Permissions(pub u32);

impl Permissions {
    /// Subscribe; read history and presence.
    pub const READ: Self = Self(1);
    /// Publish, fire, signal.
    pub const WRITE: Self = Self(2);
    /// Manage channel groups.
    pub const MANAGE: Self = Self(4);
    /// Delete messages.
    pub const DELETE: Self = Self(8);
    /// Create (legacy; kept for decoding old tokens).
    pub const CREATE: Self = Self(16);
    /// Read metadata.
    pub const GET: Self = Self(32);
    /// Update metadata.
    pub const UPDATE: Self = Self(64);
    /// Join (presence).
    pub const JOIN: Self = Self(128);

    const NAMES: [(Self, &'static str); 8] = [
        (Self::READ, "read"),
        (Self::WRITE, "write"),
        (Self::MANAGE, "manage"),
        (Self::DELETE, "delete"),
        (Self::CREATE, "create"),
        (Self::GET, "get"),
        (Self::UPDATE, "update"),
        (Self::JOIN, "join"),
    ];

    /// Whether every bit of `wanted` is set here.
    pub fn contains(self, wanted: Self) -> bool {
        self.0 & wanted.0 == wanted.0
    }

    /// The union of both sets.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Parses a permission name (`read`, `write`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(p, _)| *p)
    }

    /// The names of the permissions set, in bit order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(p, _)| self.contains(*p))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("+"))
    }
}

impl serde::Serialize for Permissions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de> serde::Deserialize<'de> for Permissions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.iter().try_fold(Self::default(), |set, name| {
            Self::from_name(name)
                .map(|p| set.union(p))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown permission `{name}`")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_names() {
        let p = Permissions::READ
            .union(Permissions::WRITE)
            .union(Permissions::JOIN);
        assert_eq!(p.0, 131);
        assert!(p.contains(Permissions::WRITE));
        assert!(!p.contains(Permissions::MANAGE));
        assert_eq!(p.to_string(), "read+write+join");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"["read","write","join"]"#);
        assert_eq!(serde_json::from_str::<Permissions>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Permissions>(r#"["fly"]"#).is_err());
        assert_eq!(
            Permissions(207).names(),
            ["read", "write", "manage", "delete", "update", "join"]
        );
    }
}
