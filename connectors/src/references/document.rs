//! kerchunk's JSON reference documents, versions 0 and 1, read into one map
//! from Zarr key to where its bytes are.
//!
//! Version 0 is the map itself. Version 1 is `{"version": 1, "templates":
//! {...}, "gen": [...], "refs": {...}}`. A value is either data inline (a
//! string: `base64:` followed by base64, else the string's UTF-8 bytes; a
//! JSON object, which kerchunk writes for metadata keys, is its JSON text) or
//! a list: `[url]` for a whole file, `[url, offset, length]` for a byte
//! range. URLs may use `{{name}}` from `templates`.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::generate::{expand_gen, render};

/// Where one key's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// The bytes themselves.
    Inline(Bytes),
    /// Bytes of another object: a whole file (`length: None`) or a range.
    Range {
        /// The object's URL or path, as written (templates applied).
        url: String,
        /// First byte.
        offset: u64,
        /// Number of bytes; `None` for the whole object.
        length: Option<u64>,
    },
}

/// The most keys one document may describe (after `gen` expansion): a bound
/// on the memory a hostile document can make gridsql take.
pub const MAX_KEYS: usize = 50_000_000;

/// Parses a reference document.
///
/// # Errors
/// Not JSON, not a reference document, or a malformed entry (named).
pub fn parse_document(bytes: &[u8]) -> Result<HashMap<String, Reference>, String> {
    let json: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON document: {e}"))?;
    let Value::Object(top) = json else {
        return Err("a reference document is a JSON object".into());
    };
    let version = top.get("version").and_then(Value::as_u64);
    let (refs, templates, generators) = match version {
        None => (top, serde_json::Map::new(), Vec::new()),
        Some(1) => {
            let refs = match top.get("refs") {
                Some(Value::Object(r)) => r.clone(),
                None => serde_json::Map::new(),
                Some(_) => return Err("'refs' must be an object".into()),
            };
            let templates = match top.get("templates") {
                Some(Value::Object(t)) => t.clone(),
                None | Some(Value::Null) => serde_json::Map::new(),
                Some(_) => return Err("'templates' must be an object".into()),
            };
            let generators = match top.get("gen") {
                Some(Value::Array(g)) => g.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err("'gen' must be a list".into()),
            };
            (refs, templates, generators)
        }
        Some(v) => return Err(format!("reference version {v} is not known (0 and 1 are)")),
    };
    let templates: HashMap<String, String> = templates
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(format!("template '{k}' is not a string")),
        })
        .collect::<Result<_, String>>()?;
    let mut out = HashMap::with_capacity(refs.len());
    for g in &generators {
        expand_gen(g, &templates, &mut |key, reference| {
            if out.len() >= MAX_KEYS {
                return Err(format!("more than {MAX_KEYS} keys"));
            }
            out.insert(key, reference);
            Ok(())
        })?;
    }
    if refs.len() > MAX_KEYS.saturating_sub(out.len()) {
        return Err(format!("more than {MAX_KEYS} keys"));
    }
    for (key, value) in refs {
        let reference = entry(&value, &templates).map_err(|e| format!("key '{key}': {e}"))?;
        out.insert(key, reference);
    }
    if out.is_empty() {
        return Err("the document holds no references".into());
    }
    Ok(out)
}

/// One `refs` value.
fn entry(value: &Value, templates: &HashMap<String, String>) -> Result<Reference, String> {
    match value {
        Value::String(s) => match s.strip_prefix("base64:") {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map(|b| Reference::Inline(b.into()))
                .map_err(|e| format!("bad base64: {e}")),
            None => Ok(Reference::Inline(Bytes::copy_from_slice(s.as_bytes()))),
        },
        Value::Object(_) => Ok(Reference::Inline(value.to_string().into_bytes().into())),
        Value::Array(parts) => {
            let url = match parts.first() {
                Some(Value::String(u)) => render(u, templates, &HashMap::new())?,
                _ => return Err("a reference list starts with a URL".into()),
            };
            match parts.len() {
                1 => Ok(Reference::Range {
                    url,
                    offset: 0,
                    length: None,
                }),
                3 => {
                    let number = |v: &Value, what: &str| {
                        v.as_u64()
                            .ok_or_else(|| format!("the {what} is not a non-negative integer"))
                    };
                    Ok(Reference::Range {
                        url,
                        offset: number(&parts[1], "offset")?,
                        length: Some(number(&parts[2], "length")?),
                    })
                }
                n => Err(format!(
                    "a reference list has 1 or 3 items ([url] or [url, offset, length]), not {n}"
                )),
            }
        }
        other => Err(format!("unexpected value {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_0_and_1_documents() {
        let v0 = br#"{".zgroup": "{\"zarr_format\": 2}", "a/0": ["s3://b/f.nc", 10, 20],
                      "a/1": "base64:AAE=", "a/2": ["/x/whole.bin"]}"#;
        let m = parse_document(v0).expect("v0");
        assert_eq!(
            m[".zgroup"],
            Reference::Inline(Bytes::from_static(b"{\"zarr_format\": 2}"))
        );
        assert_eq!(
            m["a/0"],
            Reference::Range {
                url: "s3://b/f.nc".into(),
                offset: 10,
                length: Some(20)
            }
        );
        assert_eq!(m["a/1"], Reference::Inline(Bytes::from_static(&[0, 1])));
        assert_eq!(
            m["a/2"],
            Reference::Range {
                url: "/x/whole.bin".into(),
                offset: 0,
                length: None
            }
        );
        let v1 = br#"{"version": 1, "templates": {"u": "s3://bucket/long/name"},
            "refs": {"a/.zarray": {"zarr_format": 2}, "a/0": ["{{u}}.nc", 0, 5], "a/1": ["{{ u }}.nc", 5, 5]}}"#;
        let m = parse_document(v1).expect("v1");
        assert_eq!(
            m["a/1"],
            Reference::Range {
                url: "s3://bucket/long/name.nc".into(),
                offset: 5,
                length: Some(5)
            }
        );
        assert_eq!(
            m["a/.zarray"],
            Reference::Inline(Bytes::from_static(b"{\"zarr_format\":2}"))
        );
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        for (doc, want) in [
            (&b"[1, 2]"[..], "JSON object"),
            (b"{\"version\": 7}", "version 7"),
            (b"{\"a\": [\"u\", 1]}", "key 'a'"),
            (b"{\"a\": [\"u\", -1, 2]}", "offset"),
            (b"{\"a\": \"base64:!!\"}", "base64"),
            (b"{\"a\": [3]}", "starts with a URL"),
            (
                b"{\"version\": 1, \"refs\": {\"a\": [\"{{nope}}\", 0, 1]}}",
                "nope",
            ),
            (b"{}", "no references"),
            (b"{\"a\": ", "not a JSON"),
        ] {
            let e = parse_document(doc).expect_err("refused");
            assert!(e.contains(want), "{e} (want {want})");
        }
    }
}
