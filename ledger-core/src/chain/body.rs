//! A frame's body decoded straight into the [`Verified`] its callers get.
//!
//! A verifier hands every record to its caller by reference, from where it
//! was decoded. Decoding it as an [`EventRecord`] and then moving it into a
//! `Verified` (and its `Result` into another) copies bytes just written,
//! which costs more than the copy's size suggests: on the verifier's path
//! the moves cost about a fifth of its time. So the record's fields are
//! decoded here into the `Verified` itself, and the decoder's own `Result`
//! is kept as it came.

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::Deserializer;

use super::{Head, Verified};
use crate::event::EventRecord;
use crate::frame::{BodyError, FrameRef, SCHEMA_VERSION};

/// A frame's body, decoded.
pub(super) struct Body {
    decoded: Result<Verified, postcard::Error>,
    /// What is wrong with the body besides not decoding: a schema this
    /// build does not know (then `decoded` is not tried), or bytes after
    /// the record.
    fault: Option<BodyError>,
}

impl Body {
    /// Decodes `frame`'s body as the record at the head the frame makes.
    #[inline]
    pub fn of(frame: &FrameRef<'_>) -> Body {
        if frame.header.schema != SCHEMA_VERSION {
            return Body {
                decoded: Err(postcard::Error::SerdeDeCustom),
                fault: Some(BodyError::UnknownSchema(frame.header.schema)),
            };
        }
        let head = Head {
            sequence: frame.header.sequence,
            hash: frame.stored_hash,
        };
        let mut decoder = postcard::Deserializer::from_bytes(frame.body);
        let decoded = AtHead(head).deserialize(&mut decoder);
        let fault = match (&decoded, &decoder.finalize()) {
            (Err(e), _) | (Ok(_), Err(e)) => Some(crate::frame::undecodable(frame.body, e)),
            (Ok(_), Ok([])) => None,
            (Ok(_), Ok(rest)) => Some(BodyError::TrailingBytes(rest.len())),
        };
        Body { decoded, fault }
    }

    /// The record, or what is wrong with the body, as `decode_body` names it.
    pub fn verified(&self) -> Result<&Verified, BodyError> {
        match (&self.decoded, &self.fault) {
            (_, Some(fault)) => Err(fault.clone()),
            (Ok(verified), None) => Ok(verified),
            (Err(e), None) => Err(BodyError::Undecodable(e.to_string())),
        }
    }

    pub fn into_verified(self) -> Result<Verified, BodyError> {
        self.verified()?;
        self.decoded
            .map_err(|e| BodyError::Undecodable(e.to_string()))
    }
}

/// Decodes an [`EventRecord`]'s fields, in their encoded order, into a
/// [`Verified`] at the head it holds.
struct AtHead(Head);

impl<'de> DeserializeSeed<'de> for AtHead {
    type Value = Verified;

    fn deserialize<D: Deserializer<'de>>(self, decoder: D) -> Result<Verified, D::Error> {
        // A struct is its fields in a row, as the derived `Deserialize`
        // of `EventRecord` asks for them.
        decoder.deserialize_tuple(4, self)
    }
}

impl<'de> Visitor<'de> for AtHead {
    type Value = Verified;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event record")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut fields: A) -> Result<Verified, A::Error> {
        let missing = |n| A::Error::invalid_length(n, &"an event record's four fields");
        let recorded_at = fields.next_element()?.ok_or_else(|| missing(0))?;
        let actor = fields.next_element()?.ok_or_else(|| missing(1))?;
        let submission = fields.next_element()?.ok_or_else(|| missing(2))?;
        let event = fields.next_element()?.ok_or_else(|| missing(3))?;
        Ok(Verified {
            head: self.0,
            record: EventRecord {
                recorded_at,
                actor,
                submission,
                event,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::chain::Chain;
    use crate::frame::parse_frame;
    use crate::testing::random::{play, step};

    /// `records`, each with a submission key or not, framed.
    fn frames(records: Vec<EventRecord>) -> Vec<Vec<u8>> {
        let mut chain = Chain::new();
        records
            .into_iter()
            .enumerate()
            .map(|(i, record)| {
                let record = EventRecord {
                    submission: (i % 2 == 1).then(|| {
                        crate::values::SubmissionKey::new(format!("kiosk-1:{i}")).unwrap()
                    }),
                    ..record
                };
                let mut out = Vec::new();
                chain.append(&record, &mut out).unwrap();
                out
            })
            .collect()
    }

    /// What `FrameRef::decode` makes of the same frame, as a `Verified`.
    fn decoded(frame: &FrameRef<'_>) -> Result<Verified, BodyError> {
        let head = Head {
            sequence: frame.header.sequence,
            hash: frame.stored_hash,
        };
        frame.decode().map(|record| Verified { head, record })
    }

    #[test]
    fn an_unknown_schema_is_named_before_the_body_is_read() {
        let (_, events) = play(&[]);
        let frames = frames(events);
        let (mut frame, _) = parse_frame(&frames[0]).unwrap();
        frame.header.schema = SCHEMA_VERSION + 1;
        frame.body = b"not postcard at all";
        assert_eq!(
            Body::of(&frame).into_verified(),
            Err(BodyError::UnknownSchema(SCHEMA_VERSION + 1))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every frame of a random season decodes as `FrameRef::decode`
        /// decodes it; and whatever its body is made to hold (bytes
        /// changed, cut short or run on, or any bytes at all), it fails
        /// with the same fault.
        #[test]
        fn any_body_decodes_as_the_record_does(
            steps in prop::collection::vec((step(), 0i64..120), 1..60),
            pick in any::<prop::sample::Index>(),
            changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in prop::option::of(any::<prop::sample::Index>()),
            after in prop::collection::vec(any::<u8>(), 0..3),
            noise in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
        ) {
            let (_, events) = play(&steps);
            let frames = frames(events);
            for bytes in &frames {
                let (frame, _) = parse_frame(bytes).unwrap();
                let body = Body::of(&frame);
                prop_assert!(body.verified().is_ok());
                prop_assert_eq!(body.verified().cloned(), decoded(&frame));
                prop_assert_eq!(body.into_verified(), decoded(&frame));
            }

            let (frame, _) = parse_frame(&frames[pick.index(frames.len())]).unwrap();
            let mut body = noise.unwrap_or_else(|| frame.body.to_vec());
            for (at, byte) in changes {
                if !body.is_empty() {
                    let at = at.index(body.len());
                    body[at] = byte;
                }
            }
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            body.extend(after);
            let frame = FrameRef { body: &body, ..frame };
            prop_assert_eq!(Body::of(&frame).verified().cloned(), decoded(&frame));
            prop_assert_eq!(Body::of(&frame).into_verified(), decoded(&frame));
        }
    }
}
