//! Text encoding detection for uploaded CSV files.
//!
//! Why: Arabic merchants' files come from Excel. "CSV UTF-8" starts with a BOM, "Unicode
//! text" is UTF-16 LE with a BOM, and plain "CSV" on an Arabic Windows is Windows-1256 with
//! no marker at all. Order: a BOM decides; else valid UTF-8 is UTF-8 (Windows-1256 Arabic
//! text is practically never valid UTF-8); else Windows-1256. Windows-1256 maps every byte,
//! so a file is refused only when the result cannot be text: NUL or other control bytes
//! (a binary file, an `.xlsx` renamed to `.csv`, UTF-16 without a BOM).

use super::FileError;
use serde::Serialize;
use std::borrow::Cow;
use wafa_domain::ErrorCode;

/// Which encoding a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1256,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Windows1256 => "windows-1256",
        }
    }
}

/// Decoded text (borrowed from the input when it already was UTF-8) and its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub encoding: TextEncoding,
}

fn invalid(message: impl Into<String>) -> FileError {
    FileError::new(ErrorCode::CsvInvalidEncoding, message)
}

/// Detect the encoding of `bytes` and decode them. The BOM is not part of the text.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, FileError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(rest).map_err(|e| {
            invalid(format!(
                "the file starts with a UTF-8 byte-order mark but byte {} is not UTF-8",
                e.valid_up_to() + 3
            ))
        })?;
        return Ok(Decoded {
            text: Cow::Borrowed(text),
            encoding: TextEncoding::Utf8Bom,
        });
    }
    for (bom, enc, tag) in [
        (
            &b"\xFF\xFE"[..],
            encoding_rs::UTF_16LE,
            TextEncoding::Utf16Le,
        ),
        (
            &b"\xFE\xFF"[..],
            encoding_rs::UTF_16BE,
            TextEncoding::Utf16Be,
        ),
    ] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            let text = enc
                .decode_without_bom_handling_and_without_replacement(rest)
                .ok_or_else(|| {
                    invalid(format!(
                        "the file is marked {} but is not valid {}",
                        tag.as_str(),
                        tag.as_str()
                    ))
                })?;
            if text.contains('\0') {
                return Err(invalid(format!(
                    "the file is marked {} but contains NUL characters (UTF-32?)",
                    tag.as_str()
                )));
            }
            return Ok(Decoded {
                text: Cow::Owned(text.into_owned()),
                encoding: tag,
            });
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if text.as_bytes().contains(&0) {
            return Err(invalid(
                "the file contains NUL bytes: it is binary or UTF-16 without a byte-order mark",
            ));
        }
        return Ok(Decoded {
            text: Cow::Borrowed(text),
            encoding: TextEncoding::Utf8,
        });
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(invalid(
            "this is an Excel workbook, not a CSV file; in Excel use Save As → CSV UTF-8",
        ));
    }
    if let Some(pos) = bytes
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1A))
    {
        return Err(invalid(format!(
            "the file is neither UTF-8 nor Windows-1256 text (control byte 0x{:02X} at offset {pos})",
            bytes[pos]
        )));
    }
    let text = encoding_rs::WINDOWS_1256
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or_else(|| invalid("the file is neither UTF-8 nor Windows-1256 text"))?;
    Ok(Decoded {
        text: Cow::Owned(text.into_owned()),
        encoding: TextEncoding::Windows1256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_encoding() {
        let s = "الاسم,Email\nمحمد,m@x.sa\n";
        let d = decode(s.as_bytes()).unwrap();
        assert_eq!((d.encoding, d.text.as_ref()), (TextEncoding::Utf8, s));
        assert!(matches!(d.text, Cow::Borrowed(_)));

        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(s.as_bytes());
        let d = decode(&bom).unwrap();
        assert_eq!((d.encoding, d.text.as_ref()), (TextEncoding::Utf8Bom, s));

        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in s.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(
            decode(&le).unwrap(),
            Decoded {
                text: Cow::Owned(s.to_owned()),
                encoding: TextEncoding::Utf16Le
            }
        );
        assert_eq!(decode(&be).unwrap().encoding, TextEncoding::Utf16Be);
        assert_eq!(decode(&be).unwrap().text, s);

        let (cp1256, _, unmappable) = encoding_rs::WINDOWS_1256.encode(s);
        assert!(!unmappable);
        let d = decode(&cp1256).unwrap();
        assert_eq!(
            (d.encoding, d.text.as_ref()),
            (TextEncoding::Windows1256, s)
        );
    }

    #[test]
    fn refuses_non_text() {
        for bad in [
            &b"PK\x03\x04\x14\x00\x06\x00\xff\xfe"[..],
            &b"\x00\x01\x02\xff"[..],
            &b"\xEF\xBB\xBFok\xff"[..],
            &b"\xFF\xFE\x00\xD8"[..], // lone surrogate
            &b"a\x00b"[..],
        ] {
            assert_eq!(
                decode(bad).unwrap_err().code,
                ErrorCode::CsvInvalidEncoding,
                "{bad:?}"
            );
        }
    }
}
