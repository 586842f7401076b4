//! What a before-publish handler returns.

use crate::Message;

/// The outcome of a [`before_publish`](crate::before_publish) handler.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a before-publish handler must return its decision"]
pub enum Decision {
    /// Let the message through unchanged.
    Pass,
    /// Let the message through with the payload and meta of this message.
    ///
    /// Only [`Message::payload`] and [`Message::meta`] are taken from it (a
    /// `meta` of `None` or JSON `null` removes the meta); a handler cannot move
    /// a message to another channel or change its publisher.
    Modify(Message),
    /// Refuse the message. The reason is returned to the publisher; the
    /// message is neither stored nor delivered.
    Reject(String),
}

impl Decision {
    /// Refuses the message with `reason`, which the publisher gets back.
    ///
    /// ```
    /// # use edgefn_sdk::Decision;
    /// let decision = Decision::reject("too long");
    /// assert_eq!(decision, Decision::Reject("too long".into()));
    /// ```
    pub fn reject(reason: impl Into<String>) -> Self {
        Decision::Reject(reason.into())
    }

    /// Lets `msg` through in place of the original (same as
    /// [`Decision::Modify`]).
    pub fn modify(msg: Message) -> Self {
        Decision::Modify(msg)
    }
}
