//! Validated values that commands and events are made of: identifiers, free
//! text, digests. Validation lives in the constructors *and* in
//! deserialisation, so a value that exists is a valid one, whether it came
//! from a JSON submission or from a frame on the stream.

use std::fmt;

use compact_str::CompactString;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} characters long; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} contains {ch:?}; identifiers use letters, digits and - _ . : only")]
    BadChar { what: &'static str, ch: char },
    #[error("{what} contains a control character")]
    Control { what: &'static str },
    #[error("{what} contains a run of {digits} digits, which looks like an ID or phone number; personal data never enters the ledger")]
    LooksPersonal { what: &'static str, digits: usize },
    #[error("{what} must be {expected} bytes, not {found}")]
    Length {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{what} is not valid hexadecimal")]
    Hex { what: &'static str },
}

/// A run this long of digits (spaces and hyphens between digits allowed) is
/// what an 11-digit mobile number or an 18-character citizen ID looks like.
const PERSONAL_DIGIT_RUN: usize = 11;

fn longest_digit_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut pending_separator = false;
    // Multi-byte characters are never digits or separators: each of their
    // bytes breaks a run, as the character would.
    for &b in s.as_bytes() {
        if b.is_ascii_digit() {
            run += 1;
            pending_separator = false;
            longest = longest.max(run);
        } else if (b == b' ' || b == b'-') && run > 0 && !pending_separator {
            pending_separator = true;
        } else {
            run = 0;
            pending_separator = false;
        }
    }
    longest
}

fn refuse_personal(what: &'static str, s: &str) -> Result<(), ValueError> {
    let digits = longest_digit_run(s);
    if digits >= PERSONAL_DIGIT_RUN {
        return Err(ValueError::LooksPersonal { what, digits });
    }
    Ok(())
}

pub(crate) const MAX_ID_LEN: usize = 64;

pub(crate) fn validate_id(what: &'static str, s: &str) -> Result<(), ValueError> {
    if s.is_empty() {
        return Err(ValueError::Empty { what });
    }
    if s.len() > MAX_ID_LEN {
        return Err(ValueError::TooLong {
            what,
            len: s.len(),
            max: MAX_ID_LEN,
        });
    }
    // Every id of every event a verifier decodes comes through here, so the
    // common case is one branch-free pass over the bytes; only a refused
    // byte or enough digits for a personal number look closer.
    let mut refused = false;
    let mut digits = 0;
    for &b in s.as_bytes() {
        let class = ID_BYTES[usize::from(b)];
        refused |= class == REFUSED;
        digits += usize::from(class == DIGIT);
    }
    if refused {
        // Every allowed character is ASCII, so the first byte refused
        // starts the character to name.
        let at = s
            .bytes()
            .position(|b| ID_BYTES[usize::from(b)] == REFUSED)
            .unwrap_or(0);
        let ch = s[at..]
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(ValueError::BadChar { what, ch });
    }
    if digits >= PERSONAL_DIGIT_RUN {
        refuse_personal(what, s)?;
    }
    Ok(())
}

const REFUSED: u8 = 0;
const DIGIT: u8 = 1;
const ALLOWED: u8 = 2;

/// What each byte is in an id: `[A-Za-z0-9-_.:]` only.
static ID_BYTES: [u8; 256] = {
    let mut classes = [REFUSED; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        classes[b] = if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_alphabetic() || matches!(c, b'-' | b'_' | b'.' | b':') {
            ALLOWED
        } else {
            REFUSED
        };
        b += 1;
    }
    classes
};

/// Declares an identifier chosen by whoever creates the thing it names (an
/// admin, an integrating system): 1–64 characters of `[A-Za-z0-9-_.:]`, never
/// something that looks like an ID or phone number.
macro_rules! chosen_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(CompactString);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, ValueError> {
                let s = s.into();
                validate_id($what, &s)?;
                Ok(Self(CompactString::from(s)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(s: String) -> Result<Self, ValueError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.into_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(IdVisitor($what))
                    .map(Self)
            }
        }
    };
}

/// Reads an id where the decoder holds it (a frame, a JSON body) and keeps
/// it inline when it is short, as nearly all are: a verifier decodes about
/// seven ids an event, and allocating each would cost more than checking it.
struct IdVisitor(&'static str);

impl de::Visitor<'_> for IdVisitor {
    type Value = CompactString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let article = if self.0.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        write!(f, "{article} {}", self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<CompactString, E> {
        validate_id(self.0, v).map_err(E::custom)?;
        Ok(CompactString::new(v))
    }
}

chosen_id!(
    /// The chain's shard: one ledger per top-level federation, e.g. `lyg`.
    LedgerId,
    "ledger id"
);
chosen_id!(UnitId, "unit id");
chosen_id!(
    /// Pseudonymous: chosen by the registering system, never derived from
    /// personal data. The public identifier is the [`crate::domain::VolunteerNumber`].
    VolunteerId,
    "volunteer id"
);
chosen_id!(ProjectId, "project id");
chosen_id!(ActivityId, "activity id");
chosen_id!(RewardId, "reward id");
chosen_id!(WishId, "wish id");
chosen_id!(PairingId, "pairing id");
chosen_id!(CampaignId, "campaign id");
chosen_id!(ReportId, "report id");
chosen_id!(
    /// Who acts: an admin account, an auditor or a publishing system.
    ActorId,
    "actor id"
);
chosen_id!(
    /// A submitting system's own name for a thing (a kiosk id, its record id).
    ExternalRef,
    "external reference"
);
chosen_id!(
    /// The idempotency key a submitter gives each command. Together with the
    /// actor it names one submission for ever: a retry gets the first answer.
    SubmissionKey,
    "submission key"
);

/// Declares an identifier the ledger assigns itself, from a counter in the
/// state, so that replay assigns the same one.
macro_rules! assigned_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl AssignedId for $name {
            fn number(self) -> u64 {
                self.0
            }

            fn from_number(n: u64) -> Self {
                $name(n)
            }
        }
    };
}

/// An id the ledger assigns by counting up from 1.
pub trait AssignedId: Copy {
    fn number(self) -> u64;
    fn from_number(n: u64) -> Self;
}

impl AssignedId for u64 {
    fn number(self) -> u64 {
        self
    }

    fn from_number(n: u64) -> Self {
        n
    }
}

assigned_id!(
    /// One attendance: a check-in and, later, its check-out.
    SessionId,
    "S"
);
assigned_id!(CreditId, "C");
assigned_id!(AwardId, "A");
assigned_id!(RedemptionId, "R");
assigned_id!(
    /// A hand-made entry waiting for a second admin's decision.
    RequestId,
    "Q"
);

/// Free text shown to people: names, titles, places, reasons. At most 200
/// characters, no control characters, nothing that looks like an ID or phone
/// number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 200;

    pub fn new(s: impl Into<String>) -> Result<Self, ValueError> {
        let s = s.into();
        let what = "text";
        if s.trim().is_empty() {
            return Err(ValueError::Empty { what });
        }
        let len = s.chars().count();
        if len > Self::MAX_CHARS {
            return Err(ValueError::TooLong {
                what,
                len,
                max: Self::MAX_CHARS,
            });
        }
        if s.chars().any(char::is_control) {
            return Err(ValueError::Control { what });
        }
        refuse_personal(what, &s)?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        Self::new(s)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Fixed-size bytes that read as hex in JSON and as raw bytes in postcard.
pub(crate) fn serialize_fixed<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex::encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

pub(crate) fn deserialize_fixed<'de, D: Deserializer<'de>, const N: usize>(
    d: D,
    what: &'static str,
) -> Result<[u8; N], D::Error> {
    struct Fixed<const N: usize>(&'static str);
    impl<const N: usize> de::Visitor<'_> for Fixed<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} of {} bytes", self.0, N)
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<[u8; N], E> {
            v.try_into().map_err(|_| {
                E::custom(ValueError::Length {
                    what: self.0,
                    expected: N,
                    found: v.len(),
                })
            })
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<[u8; N], E> {
            let bytes = hex::decode(v).map_err(|_| E::custom(ValueError::Hex { what: self.0 }))?;
            self.visit_bytes(&bytes)
        }
    }
    if d.is_human_readable() {
        d.deserialize_str(Fixed::<N>(what))
    } else {
        d.deserialize_bytes(Fixed::<N>(what))
    }
}

/// A BLAKE3 output: event hashes, attachment hashes, Merkle roots,
/// identity commitments.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub const ZERO: Digest = Digest([0; 32]);

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Digest, ValueError> {
        let what = "digest";
        let bytes = hex::decode(s).map_err(|_| ValueError::Hex { what })?;
        let found = bytes.len();
        bytes
            .try_into()
            .map(Digest)
            .map_err(|_| ValueError::Length {
                what,
                expected: 32,
                found,
            })
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fixed(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_fixed::<D, 32>(d, "digest").map(Digest)
    }
}

/// An ed25519 signature (64 bytes), carried by checkpoints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fixed(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_fixed::<D, 64>(d, "signature").map(Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_codes_and_refuse_the_rest() {
        assert!(UnitId::new("lyg.haizhou-01").is_ok());
        assert_eq!(UnitId::new(""), Err(ValueError::Empty { what: "unit id" }));
        assert!(matches!(
            UnitId::new("a b"),
            Err(ValueError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            UnitId::new("x".repeat(65)),
            Err(ValueError::TooLong { len: 65, .. })
        ));
    }

    #[test]
    fn values_that_look_like_id_or_phone_numbers_are_refused() {
        assert!(matches!(
            VolunteerId::new("11010519491231002X"),
            Err(ValueError::LooksPersonal { digits: 17, .. })
        ));
        assert!(matches!(
            Text::new("联系电话 138 1234 5678"),
            Err(ValueError::LooksPersonal { digits: 11, .. })
        ));
        assert!(Text::new("12351 职工服务热线法律援助").is_ok());
        assert!(Text::new("2026-03-05 学雷锋日").is_ok());
    }

    #[test]
    fn text_refuses_empty_long_and_control() {
        assert!(Text::new("   ").is_err());
        assert!(Text::new("志".repeat(201)).is_err());
        assert!(Text::new("志".repeat(200)).is_ok());
        assert!(Text::new("a\nb").is_err());
    }

    #[test]
    fn invalid_values_do_not_deserialise() {
        let bytes = postcard::to_allocvec(&"a b".to_string()).unwrap();
        assert!(postcard::from_bytes::<UnitId>(&bytes).is_err());
        let d = Digest::of(b"abc");
        assert_eq!(Digest::from_hex(&d.to_hex()), Ok(d));
        assert!(Digest::from_hex("abc").is_err());
    }

    #[test]
    fn digest_is_32_bytes_plus_length_in_postcard() {
        let bytes = postcard::to_allocvec(&Digest::of(b"x")).unwrap();
        assert_eq!(bytes.len(), 33);
        let back: Digest = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, Digest::of(b"x"));
        assert!(postcard::from_bytes::<Digest>(&bytes[..20]).is_err());
    }

    /// The plain definition of an id, one rule after another, that the
    /// one-pass check must agree with.
    fn id_by_definition(s: &str) -> Result<(), ValueError> {
        let what = "id";
        if s.is_empty() {
            return Err(ValueError::Empty { what });
        }
        if s.len() > MAX_ID_LEN {
            let (len, max) = (s.len(), MAX_ID_LEN);
            return Err(ValueError::TooLong { what, len, max });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if let Some(ch) = s.chars().find(|&c| !allowed(c)) {
            return Err(ValueError::BadChar { what, ch });
        }
        refuse_personal(what, s)
    }

    proptest::proptest! {
        #[test]
        fn the_one_pass_id_check_is_the_definition(
            s in "[a-z0-9:._ 志-]{0,70}|[0-9-]{8,20}|\\PC{0,10}"
        ) {
            proptest::prop_assert_eq!(validate_id("id", &s), id_by_definition(&s));
        }

        #[test]
        fn ids_read_back_as_written_in_json_and_postcard(s in "[A-Za-z0-9:._-]{1,64}") {
            if let Ok(id) = ActorId::new(s.as_str()) {
                let json = serde_json::to_string(&id).unwrap();
                proptest::prop_assert_eq!(&serde_json::from_str::<ActorId>(&json).unwrap(), &id);
                let bytes = postcard::to_allocvec(&id).unwrap();
                proptest::prop_assert_eq!(&bytes, &postcard::to_allocvec(&s).unwrap());
                proptest::prop_assert_eq!(postcard::from_bytes::<ActorId>(&bytes).unwrap(), id);
            }
        }
    }
}
