//! The one lifecycle of a dump, as data and functions. The standalone server (state in the
//! metadata database) and the Kubernetes operator (state in `Dump.status`) both drive it.
//!
//! ```text
//! Pending -> Fetching -> Restoring -> Analyzing -> Ready -> Expired
//!    \           \            \            \
//!     `-----------`------------`------------`--> Failed
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    Pending,
    Fetching,
    Restoring,
    Analyzing,
    Ready,
    Failed,
    Expired,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Pending,
        Phase::Fetching,
        Phase::Restoring,
        Phase::Analyzing,
        Phase::Ready,
        Phase::Failed,
        Phase::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Fetching => "Fetching",
            Phase::Restoring => "Restoring",
            Phase::Analyzing => "Analyzing",
            Phase::Ready => "Ready",
            Phase::Failed => "Failed",
            Phase::Expired => "Expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Work is under way: after a restart it must be redone or failed.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            Phase::Pending | Phase::Fetching | Phase::Restoring | Phase::Analyzing
        )
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The source is being fetched (url, s3).
    FetchStarted,
    /// The file is here; the restore starts.
    RestoreStarted,
    /// The restore succeeded; introspection starts.
    Restored,
    /// The schema graph is stored.
    Analyzed,
    /// Something went wrong; the reason is for a person.
    Failed(String),
    /// The TTL ran out.
    Expired,
}

/// The phase after `event` in `phase`, or `None` when the event does not apply there (a stale
/// or duplicated event, which callers ignore).
pub fn next(phase: Phase, event: &Event) -> Option<Phase> {
    use Phase::*;
    match (phase, event) {
        (Pending, Event::FetchStarted) => Some(Fetching),
        (Pending | Fetching, Event::RestoreStarted) => Some(Restoring),
        (Restoring, Event::Restored) => Some(Analyzing),
        (Analyzing, Event::Analyzed) => Some(Ready),
        (Pending | Fetching | Restoring | Analyzing, Event::Failed(_)) => Some(Failed),
        (Ready | Failed, Event::Expired) => Some(Expired),
        // Expiring work in progress is allowed: a TTL shorter than a restore.
        (Pending | Fetching | Restoring | Analyzing, Event::Expired) => Some(Expired),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_ends_ready_then_expired() {
        let mut phase = Phase::Pending;
        for event in [
            Event::FetchStarted,
            Event::RestoreStarted,
            Event::Restored,
            Event::Analyzed,
            Event::Expired,
        ] {
            phase = next(phase, &event).unwrap_or_else(|| panic!("{event:?} in {phase}"));
        }
        assert_eq!(phase, Phase::Expired);
    }

    #[test]
    fn every_working_phase_can_fail_and_settled_ones_cannot() {
        for phase in Phase::ALL {
            let failed = next(phase, &Event::Failed("x".into()));
            assert_eq!(failed.is_some(), phase.is_in_progress(), "{phase}");
        }
    }

    #[test]
    fn stale_events_are_rejected() {
        assert_eq!(next(Phase::Ready, &Event::Restored), None);
        assert_eq!(next(Phase::Expired, &Event::Expired), None);
        assert_eq!(next(Phase::Failed, &Event::Analyzed), None);
    }

    #[test]
    fn phases_round_trip_through_their_names() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
        assert_eq!(Phase::parse("ready"), None);
    }
}
