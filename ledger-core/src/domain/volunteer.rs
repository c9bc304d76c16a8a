use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::values::{Digest, Text, UnitId, VolunteerId};

/// Union member, or an invited non-member (特邀会员, notice 000), who may
/// join and earn points too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    Member,
    InvitedNonMember,
}

/// Groups the notices ask unions to mobilise first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// 劳模
    ModelWorker,
    /// 道德模范
    MoralModel,
    /// 最美人物
    MostBeautiful,
    /// 工会干部
    UnionCadre,
    /// 五一劳动奖章获得者
    MayDayMedal,
    /// 工匠
    MasterCraftsman,
    /// 退休职工
    Retiree,
    /// 大学生
    UniversityStudent,
}

/// The three opinions on a registration form (notice 004), in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalLevel {
    /// 单位工会意见
    Unit,
    /// 区市县总工会或产业工会意见
    DistrictOrIndustry,
    /// 市总工会意见
    City,
}

/// As the JSON names it, so a message reads like the command it refuses.
impl std::fmt::Display for ApprovalLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApprovalLevel::Unit => "unit",
            ApprovalLevel::DistrictOrIndustry => "district_or_industry",
            ApprovalLevel::City => "city",
        })
    }
}

impl ApprovalLevel {
    pub fn next(self) -> Option<ApprovalLevel> {
        match self {
            ApprovalLevel::Unit => Some(ApprovalLevel::DistrictOrIndustry),
            ApprovalLevel::DistrictOrIndustry => Some(ApprovalLevel::City),
            ApprovalLevel::City => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "level")]
pub enum VolunteerStatus {
    /// Waiting for the opinion of this level.
    AwaitingApproval(ApprovalLevel),
    Approved,
    Rejected(ApprovalLevel),
}

/// The key of the identity commitment. It is an input of the ledger (kept by
/// the operator beside the personal-data store), never a constant in code:
/// without it nobody can test a guessed ID number against the chain.
#[derive(Clone)]
pub struct IdentityKey(pub [u8; 32]);

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(..)")
    }
}

/// A keyed BLAKE3 commitment to a person's citizen ID number. The chain
/// carries this instead of the number, so the same person registering twice
/// is caught while the number itself never enters the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdentityCommitment(pub Digest);

impl IdentityCommitment {
    /// Commits to the number as [`normalised_citizen_id`] spells it, so
    /// that two spellings of one number commit to the same value and one
    /// person cannot be registered twice by spelling his number otherwise.
    pub fn compute(key: &IdentityKey, citizen_id: &str) -> IdentityCommitment {
        let normalised = normalised_citizen_id(citizen_id);
        IdentityCommitment(Digest(
            *blake3::keyed_hash(&key.0, normalised.as_bytes()).as_bytes(),
        ))
    }
}

/// An ID number as typed, in one spelling: full-width characters (as a
/// Chinese input method types them) as their ASCII forms, spaces and
/// hyphens left out, letters upper-cased. A number typed plainly is
/// unchanged but for its case.
pub fn normalised_citizen_id(typed: &str) -> String {
    typed
        .chars()
        .map(|c| match u32::from(c) {
            // U+FF01..=U+FF5E are ASCII's '!'..='~' at full width.
            wide @ 0xFF01..=0xFF5E => char::from_u32(wide - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether a normalised number has the shape of a resident ID number
/// (居民身份证号码, GB 11643): 17 digits, then a digit or `X`.
pub fn is_resident_id(normalised: &str) -> bool {
    let bytes = normalised.as_bytes();
    bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X')
}

/// The unified volunteer number (志愿者统一编号, MZ/T 061): the public
/// identifier printed on certificates, assigned by the ledger in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VolunteerNumber(pub CompactString);

impl VolunteerNumber {
    pub fn assign(prefix: &str, ordinal: u64) -> VolunteerNumber {
        VolunteerNumber(compact_str::format_compact!("{prefix}{ordinal:08}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VolunteerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volunteer {
    pub id: VolunteerId,
    pub number: VolunteerNumber,
    pub home_unit: UnitId,
    pub membership: Membership,
    // Boxed slices, not `Vec`s: the state keeps a million of these, and
    // they never grow after registration.
    pub groups: Box<[Group]>,
    pub specialties: Box<[Text]>,
    pub identity: IdentityCommitment,
    pub status: VolunteerStatus,
}

/// Star levels by cumulative recorded service hours, from 《志愿服务记录办法》
/// (Ministry of Civil Affairs, 民函〔2012〕340号, 23 October 2012): 100 h one
/// star, 300 h two, 600 h three, 1,000 h four, 1,500 h five.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StarLevel(pub u8);

impl StarLevel {
    pub const THRESHOLD_HOURS: [u64; 5] = [100, 300, 600, 1_000, 1_500];

    pub fn for_minutes(confirmed_minutes: u64) -> StarLevel {
        let hours = confirmed_minutes / 60;
        let stars = Self::THRESHOLD_HOURS
            .iter()
            .take_while(|&&h| hours >= h)
            .count();
        StarLevel(stars as u8)
    }

    /// Minutes still needed for the next star, or `None` at five stars.
    pub fn minutes_to_next(confirmed_minutes: u64) -> Option<u64> {
        let stars = Self::for_minutes(confirmed_minutes).0 as usize;
        Self::THRESHOLD_HOURS
            .get(stars)
            .map(|h| h * 60 - confirmed_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_levels_follow_the_regulation() {
        assert_eq!(StarLevel::for_minutes(0), StarLevel(0));
        assert_eq!(StarLevel::for_minutes(100 * 60 - 1), StarLevel(0));
        assert_eq!(StarLevel::for_minutes(100 * 60), StarLevel(1));
        assert_eq!(StarLevel::for_minutes(300 * 60), StarLevel(2));
        assert_eq!(StarLevel::for_minutes(600 * 60), StarLevel(3));
        assert_eq!(StarLevel::for_minutes(1_000 * 60), StarLevel(4));
        assert_eq!(StarLevel::for_minutes(1_500 * 60), StarLevel(5));
        assert_eq!(StarLevel::for_minutes(9_999 * 60), StarLevel(5));
        assert_eq!(StarLevel::minutes_to_next(99 * 60), Some(60));
        assert_eq!(StarLevel::minutes_to_next(1_500 * 60), None);
    }

    #[test]
    fn identity_commitment_is_keyed_and_normalised() {
        let key = IdentityKey([7; 32]);
        let a = IdentityCommitment::compute(&key, "32070219900101123x");
        let b = IdentityCommitment::compute(&key, " 32070219900101123X ");
        assert_eq!(a, b);
        for spelling in [
            "320702 19900101 123X",
            "320702-19900101-123x",
            "３２０７０２１９９００１０１１２３Ｘ",
            "３２０７０２\u{3000}１９９００１０１１２３ｘ",
        ] {
            assert_eq!(IdentityCommitment::compute(&key, spelling), a, "{spelling}");
        }
        let other_key = IdentityKey([8; 32]);
        assert_ne!(
            a,
            IdentityCommitment::compute(&other_key, "32070219900101123X")
        );
        assert_ne!(a.0, Digest::of(b"32070219900101123X"));
    }

    #[test]
    fn a_resident_id_is_seventeen_digits_and_a_check_character() {
        assert!(is_resident_id("32070219900101123X"));
        assert!(is_resident_id("320702199001011234"));
        for not in [
            "not-an-id",
            "32070219900101123",
            "3207021990010112345",
            "32070219900101123Y",
            "3207021990010112X4",
        ] {
            assert!(!is_resident_id(&normalised_citizen_id(not)), "{not}");
        }
        assert!(is_resident_id(&normalised_citizen_id(
            "３２０７０２ 19900101 123x"
        )));
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(VolunteerNumber::assign("LYG", 42).0, "LYG00000042");
    }
}
