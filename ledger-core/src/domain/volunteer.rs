use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use thiserror::Error;

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

/// Why a normalised number is not a resident ID number (居民身份证号码,
/// GB 11643).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ResidentIdError {
    #[error("not a resident ID number: 17 digits, then a digit or X")]
    Shape,
    #[error("the check digit {found} does not match the first 17 digits: a character is mistyped")]
    CheckDigit { found: char },
}

/// GB 11643's weights of the first 17 digits (ISO 7064 MOD 11-2: 2^(17-i)
/// mod 11).
const CHECK_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each weighted sum mod 11.
const CHECK_CHARACTERS: [u8; 11] = *b"10X98765432";

/// The check character (`0`..`9` or `X`) of a resident ID number whose
/// first 17 digits are `first`; `None` unless `first` is 17 ASCII digits.
pub fn resident_id_check(first: &str) -> Option<char> {
    check_of(first.as_bytes()).map(char::from)
}

fn check_of(digits: &[u8]) -> Option<u8> {
    let digits: &[u8; 17] = digits.try_into().ok()?;
    digits
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| check_of_digits(digits))
}

/// The check character of 17 ASCII digits.
fn check_of_digits(digits: &[u8; 17]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(CHECK_WEIGHTS)
        .map(|(d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

/// The resident ID number of the 17 digits `first`, its check character
/// appended; `None` unless `first` is 17 ASCII digits.
pub fn with_check_digit(first: &str) -> Option<String> {
    resident_id_check(first).map(|check| format!("{first}{check}"))
}

/// A made-up resident ID number for demo data, benchmarks and tests, one
/// for each `n` below 10^17: `n` as 17 digits, zero-padded, and their check
/// character. Registration takes it; below 10^11 its region code is
/// 000000, which is no region's, so it is nobody's number.
pub fn made_up_resident_id(n: u64) -> String {
    let mut first = [b'0'; 17];
    let mut rest = n;
    for digit in first.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let check = check_of_digits(&first);
    first
        .iter()
        .chain([&check])
        .map(|&b| char::from(b))
        .collect()
}

/// Whether a normalised number is a resident ID number (GB 11643): 17
/// digits, then the check character they give (a digit or `X`). The check
/// catches a mistyped digit, or two neighbours swapped; it is no proof that
/// the number was ever issued.
pub fn check_resident_id(normalised: &str) -> Result<(), ResidentIdError> {
    let [first @ .., last] = normalised.as_bytes() else {
        return Err(ResidentIdError::Shape);
    };
    let expected = check_of(first).ok_or(ResidentIdError::Shape)?;
    if !(last.is_ascii_digit() || *last == b'X') {
        return Err(ResidentIdError::Shape);
    }
    if *last == expected {
        Ok(())
    } else {
        Err(ResidentIdError::CheckDigit {
            found: char::from(*last),
        })
    }
}

/// [`check_resident_id`] as a yes or no.
pub fn is_resident_id(normalised: &str) -> bool {
    check_resident_id(normalised).is_ok()
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
    use proptest::prelude::*;

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
        let a = IdentityCommitment::compute(&key, "11010519491231002x");
        let b = IdentityCommitment::compute(&key, " 11010519491231002X ");
        assert_eq!(a, b);
        for spelling in [
            "110105 19491231 002X",
            "110105-19491231-002x",
            "１１０１０５１９４９１２３１００２Ｘ",
            "１１０１０５\u{3000}１９４９１２３１００２ｘ",
        ] {
            assert_eq!(IdentityCommitment::compute(&key, spelling), a, "{spelling}");
        }
        let other_key = IdentityKey([8; 32]);
        assert_ne!(
            a,
            IdentityCommitment::compute(&other_key, "11010519491231002X")
        );
        assert_ne!(a.0, Digest::of(b"11010519491231002X"));
    }

    #[test]
    fn a_resident_id_is_seventeen_digits_and_their_check_character() {
        // GB 11643's own example (a sum that leaves 2, so X), and sums
        // that leave 0 and 1.
        for valid in [
            "11010519491231002X",
            "440524198001010021",
            "440524198001010080",
            "320702199001011235",
        ] {
            assert_eq!(check_resident_id(valid), Ok(()), "{valid}");
        }
        assert_eq!(resident_id_check("11010519491231002"), Some('X'));
        assert_eq!(resident_id_check("32070219900101123"), Some('5'));
        for not in [
            "not-an-id",
            "",
            "32070219900101123",
            "3207021990010112355",
            "32070219900101123Y",
            "3207021990010112X5",
            "32070219900101123\u{e9}",
        ] {
            assert_eq!(
                check_resident_id(&normalised_citizen_id(not)),
                Err(ResidentIdError::Shape),
                "{not}"
            );
        }
        // The check character itself mistyped, two neighbours swapped, one
        // digit mistyped.
        for typo in [
            "320702199001011234",
            "11010519491213002X",
            "320702199001011325",
            "320702199101011235",
        ] {
            assert!(
                matches!(
                    check_resident_id(typo),
                    Err(ResidentIdError::CheckDigit { .. })
                ),
                "{typo}"
            );
        }
        assert!(ResidentIdError::CheckDigit { found: '4' }
            .to_string()
            .contains("check digit 4 does not match"));
        assert!(is_resident_id(&normalised_citizen_id(
            "１１０１０５ 19491231 002x"
        )));
        assert!(!is_resident_id("320702199001011234"));
        assert_eq!(
            with_check_digit("32070219900101123").as_deref(),
            Some("320702199001011235")
        );
        assert_eq!(with_check_digit("3207021990010112"), None);
        assert_eq!(made_up_resident_id(3), "000000000000000036");
        assert_eq!(with_check_digit("3207021990010112a"), None);
    }

    proptest! {
        #[test]
        fn seventeen_digits_and_their_check_pass(first in "[0-9]{17}") {
            let number = with_check_digit(&first).expect("17 digits");
            prop_assert_eq!(check_resident_id(&number), Ok(()));
        }

        #[test]
        fn made_up_numbers_pass_and_differ(n in any::<u64>(), m in any::<u64>()) {
            let number = made_up_resident_id(n);
            prop_assert_eq!(check_resident_id(&number), Ok(()));
            prop_assert_eq!(&number[..17], format!("{:017}", n % 100_000_000_000_000_000));
            if n % 100_000_000_000_000_000 != m % 100_000_000_000_000_000 {
                prop_assert_ne!(number, made_up_resident_id(m));
            }
        }

        #[test]
        fn any_other_last_character_fails(first in "[0-9]{17}", last in any::<char>()) {
            let expected = resident_id_check(&first).expect("17 digits");
            prop_assume!(last != expected);
            let refused = check_resident_id(&format!("{first}{last}"));
            if last.is_ascii_digit() || last == 'X' {
                prop_assert_eq!(refused, Err(ResidentIdError::CheckDigit { found: last }));
            } else {
                prop_assert_eq!(refused, Err(ResidentIdError::Shape));
            }
        }

        #[test]
        fn another_last_digit_or_x_fails(first in "[0-9]{17}", last in "[0-9X]") {
            let expected = resident_id_check(&first).expect("17 digits");
            let last = last.chars().next().expect("one character");
            prop_assume!(last != expected);
            let number = format!("{first}{last}");
            prop_assert!(!is_resident_id(&number), "{}", number);
        }
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(VolunteerNumber::assign("LYG", 42).0, "LYG00000042");
    }
}
