//! The things the notices talk about, as types. These are the *state* the
//! rules read; commands and events (in [`crate::command`] and
//! [`crate::event`]) are separate types that refer to them.

mod activity;
mod campaign;
mod checkpoint;
mod credit;
mod project;
mod request;
mod reward;
mod service;
mod unit;
mod volunteer;

pub use activity::{Activity, AutoCheckOut, Category, PointsRule};
pub use campaign::{Attachment, Campaign, Deadline, Phase, Report, ReportKind};
pub use checkpoint::Checkpoint;
pub use credit::{
    Approval, Award, AwardBasis, Credit, CreditSource, CreditStatus, DisputeKind, EntryRef,
};
pub use project::{Project, ProjectStatus, Proposer};
pub use request::{ManualEntry, Request};
pub use reward::{Redemption, Reward};
pub use service::{Pairing, Session, Source, Wish, WishStatus};
pub use unit::{Grassroots, Unit, UnitKind};
pub use volunteer::{
    check_resident_id, is_resident_id, made_up_resident_id, normalised_citizen_id,
    resident_id_check, with_check_digit, ApprovalLevel, Group, IdentityCommitment, IdentityKey,
    Membership, ResidentIdError, StarLevel, Volunteer, VolunteerNumber, VolunteerStatus,
};
