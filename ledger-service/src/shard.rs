//! Names that carry the shard: one chain, one stream and one set of subjects
//! per top-level federation. Nothing here assumes there is only one.

use ledger_core::values::{LedgerId, UnitId as LedgerUnit};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    id: LedgerId,
}

impl Shard {
    pub fn new(id: LedgerId) -> Shard {
        Shard { id }
    }

    pub fn id(&self) -> &LedgerId {
        &self.id
    }

    /// Subject tokens and stream names may not hold `.`; ids may.
    fn token(&self) -> String {
        self.id.as_str().replace(['.', ':'], "_")
    }

    /// The stream that holds the chain's blocks: `LEDGER_<shard>`.
    pub fn stream(&self) -> String {
        format!("LEDGER_{}", self.token())
    }

    /// Where the sequencer appends blocks.
    pub fn blocks_subject(&self) -> String {
        format!("ledger.{}.blocks", self.token())
    }

    /// Where a publishing system submits: `ledger.<shard>.intake.<system>`.
    /// The last token names the system; NATS permissions bind each system's
    /// account to its own subject, so the token is the submitter's identity.
    pub fn intake_subject(&self, system: &str) -> String {
        format!("ledger.{}.intake.{}", self.token(), system)
    }

    pub fn intake_wildcard(&self) -> String {
        format!("ledger.{}.intake.*", self.token())
    }

    /// Where any instance forwards a command to whichever instance holds
    /// the write lease (service accounts only).
    pub fn writer_subject(&self) -> String {
        format!("ledger.{}.writer", self.token())
    }

    /// Where each event is republished after commit, one per message:
    /// `ledger.<shard>.events.<kind>.<unit>` (`_` for ledger-wide events),
    /// so subscribers filter by kind, by unit, or both.
    pub fn event_subject(&self, kind: &str, unit: Option<&LedgerUnit>) -> String {
        let unit = unit.map_or_else(|| "_".to_owned(), |u| u.as_str().replace(['.', ':'], "_"));
        format!("ledger.{}.events.{}.{}", self.token(), kind, unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_shard() {
        let shard = Shard::new(LedgerId::new("gd.edu").unwrap());
        assert_eq!(shard.stream(), "LEDGER_gd_edu");
        assert_eq!(shard.blocks_subject(), "ledger.gd_edu.blocks");
        assert_eq!(
            shard.intake_subject("kiosk-1"),
            "ledger.gd_edu.intake.kiosk-1"
        );
        let unit = LedgerUnit::new("gz.yuexiu").unwrap();
        assert_eq!(
            shard.event_subject("checked_in", Some(&unit)),
            "ledger.gd_edu.events.checked_in.gz_yuexiu"
        );
        assert_eq!(
            shard.event_subject("ledger_opened", None),
            "ledger.gd_edu.events.ledger_opened._"
        );
    }
}
