//! Strings stored as fixed-width cells, the same for every format: NumPy's
//! `<U n` / Zarr's `fixed_length_utf32` (UTF-32 code points) and `|S n` /
//! `null_terminated_bytes` / NetCDF char arrays (bytes), decoded into
//! Arrow strings as xarray decodes them.
//!
//! xarray keeps what is stored: trailing NUL padding is dropped, blanks are
//! kept (`'UK Met Office  '`), bytes that are not UTF-8 are decoded lossily
//! (xarray shows them as `bytes`; SQL has only text).

use arrow::array::StringArray;

/// How one fixed-width cell holds its string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedText {
    /// `width` bytes, NUL-padded.
    Bytes {
        /// Bytes per cell.
        width: usize,
    },
    /// `width / 4` UTF-32 code units in native byte order, NUL-padded.
    Utf32 {
        /// Bytes per cell.
        width: usize,
    },
}

impl FixedText {
    /// Bytes per cell.
    pub fn width(self) -> usize {
        match self {
            FixedText::Bytes { width } | FixedText::Utf32 { width } => width,
        }
    }

    /// Decodes cells laid end to end (a trailing partial cell is ignored).
    pub fn decode(self, bytes: &[u8]) -> StringArray {
        let width = self.width().max(1);
        bytes
            .chunks_exact(width)
            .map(|cell| Some(self.cell(cell)))
            .collect()
    }

    fn cell(self, cell: &[u8]) -> String {
        match self {
            FixedText::Bytes { .. } => {
                let end = cell.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                String::from_utf8_lossy(&cell[..end]).into_owned()
            }
            FixedText::Utf32 { .. } => cell
                .chunks_exact(4)
                .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .take_while(|&u| u != 0)
                .map(|u| char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn bytes_drop_nul_padding_and_keep_blanks() {
        let a = FixedText::Bytes { width: 4 }.decode(b"ab\0\0c  \0abcd");
        assert_eq!(a.len(), 3);
        assert_eq!(a.value(0), "ab");
        assert_eq!(a.value(1), "c  ");
        assert_eq!(a.value(2), "abcd");
    }

    #[test]
    fn utf32_stops_at_nul_and_replaces_invalid_code_points() {
        let mut b = Vec::new();
        for u in ['A' as u32, 'é' as u32, 0, 0, 0xD800, 'z' as u32, 0, 0] {
            b.extend_from_slice(&u.to_ne_bytes());
        }
        let a = FixedText::Utf32 { width: 16 }.decode(&b);
        assert_eq!(a.value(0), "Aé");
        assert_eq!(a.value(1), "\u{FFFD}z");
    }

    #[test]
    fn a_partial_cell_is_ignored() {
        assert_eq!(FixedText::Bytes { width: 3 }.decode(b"abcd").len(), 1);
    }
}
