//! Limits on how much the node keeps on clients' behalf: presence members,
//! channel groups and channels with history. Each refusal names the limit
//! it hit ([`LimitReached`], answered as a 400 naming the setting) and is
//! counted in `/metrics` as `edgefn_limit_refusals_total{limit="..."}`.

/// A bound on what the node keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Members of all channels' presence (`[pubnub] max_presence_members`).
    PresenceMembers,
    /// Channel groups (`[pubnub] max_channel_groups`).
    ChannelGroups,
    /// Channels with history (`[bus] max_history_channels`).
    HistoryChannels,
}

impl Limit {
    /// The name `/metrics` labels its refusals with.
    pub fn name(self) -> &'static str {
        match self {
            Self::PresenceMembers => "presence_members",
            Self::ChannelGroups => "channel_groups",
            Self::HistoryChannels => "history_channels",
        }
    }

    /// The setting that sets it, as written in the config file.
    pub fn setting(self) -> &'static str {
        match self {
            Self::PresenceMembers => "pubnub.max_presence_members",
            Self::ChannelGroups => "pubnub.max_channel_groups",
            Self::HistoryChannels => "bus.max_history_channels",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::PresenceMembers => "presence members",
            Self::ChannelGroups => "channel groups",
            Self::HistoryChannels => "channels with history",
        }
    }
}

/// Something new was refused: the node keeps as many as `limit` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "limit reached: this node keeps at most {max} {} ({})",
    .limit.what(),
    .limit.setting()
)]
pub struct LimitReached {
    /// Which limit.
    pub limit: Limit,
    /// Its value.
    pub max: usize,
}
