//! Reading encoded rows back (the layout is in [`super::encode`]'s header): a [`Cursor`] walks a
//! buffer of whole rows, and an [`Encoded`] row gives its lines, contact and attributes.

use super::encode::{DIGIT_BITS, EncodedKey, KeyNames, MORE};
use crate::input::Location;
use std::io;

/// A piece of fragments as text, when it is UTF-8 as a whole (as every piece the merge wrote is:
/// see the module's header); `None` when not, and each row's strings are then checked on their
/// own, so the error names what is wrong.
pub fn piece_text(piece: &[u8]) -> Option<&str> {
    std::str::from_utf8(piece).ok()
}

/// One encoded fragment (a row, or rows of one contact merged), borrowed from its buffer.
#[derive(Debug, Clone, Copy)]
pub struct Encoded<'a> {
    /// Every line, still encoded: walk them with [`Encoded::locations`].
    lines: &'a [u8],
    line_count: u64,
    /// The contact's bytes: equal for rows of the same contact.
    pub contact: &'a [u8],
    /// The attributes, still encoded: walk them with [`Encoded::attributes`].
    attributes: &'a [u8],
    count: u64,
    /// The whole fragment as text, when its buffer was checked as a whole.
    text: Option<&'a str>,
}

#[cold]
fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt merge file: {what}"))
}

/// Reads rows from a buffer of whole encoded rows.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The same buffer as text, when it was found to be UTF-8 as a whole: its rows' strings need
    /// no check of their own.
    text: Option<&'a str>,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0, text: None }
    }

    /// A cursor at `at`, where a row starts.
    pub fn at(bytes: &'a [u8], at: usize) -> Cursor<'a> {
        Cursor { bytes, at, text: None }
    }

    /// This cursor, its buffer known to be UTF-8 as a whole (`text`, from [`piece_text`]) or not.
    pub fn with_text(self, text: Option<&'a str>) -> Cursor<'a> {
        debug_assert!(text.is_none_or(|text| text.as_bytes() == self.bytes));
        Cursor { text, ..self }
    }

    /// Where the next row starts.
    pub fn position(&self) -> usize {
        self.at
    }

    #[inline]
    fn varint(&mut self) -> io::Result<u64> {
        // Most numbers (lengths, key numbers) are under 64: one byte.
        if let Some(&byte) = self.bytes.get(self.at)
            && byte < MORE
        {
            self.at += 1;
            return Ok(u64::from(byte));
        }
        self.long_varint()
    }

    /// (Inlined: every row's line number takes several bytes.)
    #[inline]
    fn long_varint(&mut self) -> io::Result<u64> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let mut value = 0u64;
        for (i, &byte) in rest.iter().take(u64::BITS.div_ceil(DIGIT_BITS) as usize).enumerate() {
            value |= u64::from(byte & (MORE - 1)) << (DIGIT_BITS as usize * i);
            if byte < MORE {
                self.at += i + 1;
                return Ok(value);
            }
        }
        Err(corrupt("a number runs past the end or is too long"))
    }

    #[inline]
    fn take(&mut self, len: u64) -> io::Result<&'a [u8]> {
        let end = usize::try_from(len).ok().and_then(|len| self.at.checked_add(len));
        let bytes =
            end.and_then(|end| self.bytes.get(self.at..end)).ok_or_else(|| corrupt("a string runs past the end"))?;
        self.at += bytes.len();
        Ok(bytes)
    }

    fn string(&mut self) -> io::Result<&'a [u8]> {
        let len = self.varint()?;
        self.take(len)
    }

    /// The next fragment's bytes after its contact, and its contact; `None` at the end.
    fn next_fragment(&mut self) -> io::Result<Option<(Cursor<'a>, &'a [u8])>> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        let len = self.varint()?;
        let start = self.at;
        let mut fragment = Cursor::new(self.take(len)?);
        fragment.text = self.text.and_then(|text| text.get(start..self.at));
        let instance = fragment.varint()?;
        if instance & 1 == 1 {
            fragment.take(instance >> 1)?;
        }
        fragment.string()?;
        let contact = &fragment.bytes[..fragment.at];
        Ok(Some((fragment, contact)))
    }

    /// The next row, or `None` at the end of the buffer. Only its length, contact and lines are
    /// read here; its attributes as they are walked.
    pub fn next_row(&mut self) -> io::Result<Option<Encoded<'a>>> {
        let Some((mut row, contact)) = self.next_fragment()? else { return Ok(None) };
        let line_count = row.varint()?;
        if line_count == 0 {
            return Err(corrupt("a fragment with no line"));
        }
        let lines_start = row.at;
        for _ in 0..line_count {
            u32::try_from(row.varint()?).map_err(|_| corrupt("an input number is too large"))?;
            row.varint()?;
        }
        let lines = &row.bytes[lines_start..row.at];
        let count = row.varint()?;
        let attributes = &row.bytes[row.at..];
        let text = row.text;
        Ok(Some(Encoded { lines, line_count, contact, attributes, count, text }))
    }

    /// The contact of the next fragment; `None` at the end. (All the merge's first pass needs:
    /// lines and attributes are not decoded.)
    pub fn next_contact(&mut self) -> io::Result<Option<&'a [u8]>> {
        Ok(self.next_fragment()?.map(|(_, contact)| contact))
    }
}

impl<'a> Encoded<'a> {
    /// (instance id, contact id) of the row; `names` has the instances by number.
    pub fn ids<'x>(&self, names: &'x KeyNames) -> io::Result<(&'x str, &'x str)>
    where
        'a: 'x,
    {
        let mut cursor = Cursor::new(self.contact);
        let text = |bytes| self.as_text(bytes).ok_or_else(|| corrupt("an id that is not UTF-8"));
        let tag = cursor.varint()?;
        let instance = if tag & 1 == 1 {
            text(cursor.take(tag >> 1)?)?
        } else {
            let id = usize::try_from(tag >> 1).ok();
            id.and_then(|id| names.instance(id)).ok_or_else(|| corrupt("an unknown instance number"))?
        };
        Ok((instance, text(cursor.string()?)?))
    }

    /// Every line, in input order (checked when the fragment was read).
    pub fn locations(&self) -> impl Iterator<Item = Location> + 'a {
        let mut cursor = Cursor::new(self.lines);
        (0..self.line_count).map_while(move |_| {
            let input = u32::try_from(cursor.varint().ok()?).ok()?;
            Some(Location { input, line: cursor.varint().ok()? })
        })
    }

    /// `part` (the fragment's bytes from some place on) as text: from the fragment's text when its
    /// buffer was checked as a whole, else checked now.
    #[inline]
    fn as_text(&self, part: &'a [u8]) -> Option<&'a str> {
        match self.text {
            Some(text) => {
                let start = part.as_ptr() as usize - text.as_ptr() as usize;
                text.get(start..start + part.len())
            }
            None => std::str::from_utf8(part).ok(),
        }
    }

    /// The attributes in the row's order, as (key, value), then the error that stopped the walk
    /// if one did (tests: the merge walks them with [`Encoded::for_each_attribute`]).
    #[cfg(test)]
    pub fn attributes(&self) -> impl Iterator<Item = io::Result<(EncodedKey<'a>, &'a str)>> + 'a {
        let mut all = Vec::new();
        let walked = self.for_each_attribute(|key, value| {
            all.push(Ok((key, value)));
            Ok(true)
        });
        all.into_iter().chain(walked.err().map(Err))
    }

    /// Gives each attribute, in the row's order, to `each` as (key, value), until `each` returns
    /// `Ok(false)` or an error. Inlined into the merge's loop: no (key, value) result is handed
    /// back through memory, attribute by attribute.
    ///
    /// Values are checked to be UTF-8 in one go for the whole row (when its buffer was not checked
    /// as a whole already), or one by one when that fails, to find the bad one. An attribute
    /// whose key number and length are one byte each (nearly every one) is read straight off the
    /// bytes.
    #[inline(always)]
    pub fn for_each_attribute(
        &self,
        mut each: impl FnMut(EncodedKey<'a>, &'a str) -> io::Result<bool>,
    ) -> io::Result<()> {
        let bytes = self.attributes;
        let whole = self.as_text(bytes);
        let mut cursor = Cursor::new(bytes);
        for _ in 0..self.count {
            let at = cursor.at;
            let (key, value) = match (whole, bytes.get(at..at + 2)) {
                (Some(whole), Some(&[tag, len])) if (tag | len) < MORE && tag & 1 == 0 => {
                    let end = at + 2 + usize::from(len);
                    match whole.get(at + 2..end) {
                        Some(value) => {
                            cursor.at = end;
                            (EncodedKey::Id(u32::from(tag >> 1)), value)
                        }
                        // Past the end, or not on a character's edge: the general reading says which.
                        None => cursor.attribute(Some(whole))?,
                    }
                }
                _ => cursor.attribute(whole)?,
            };
            if !each(key, value)? {
                break;
            }
        }
        Ok(())
    }
}

impl<'a> Cursor<'a> {
    /// The next attribute of a row; `whole`: the row's attributes as text, when they are.
    fn attribute(&mut self, whole: Option<&'a str>) -> io::Result<(EncodedKey<'a>, &'a str)> {
        let tag = self.varint()?;
        let key = if tag & 1 == 1 {
            EncodedKey::Name(self.take(tag >> 1)?)
        } else {
            EncodedKey::Id(u32::try_from(tag >> 1).map_err(|_| corrupt("a key number is too large"))?)
        };
        let len = self.varint()?;
        let start = self.at;
        let bytes = self.take(len)?;
        let value = match whole {
            Some(whole) => whole.get(start..start + bytes.len()),
            None => std::str::from_utf8(bytes).ok(),
        };
        Ok((key, value.ok_or_else(|| corrupt("a value that is not UTF-8"))?))
    }
}
