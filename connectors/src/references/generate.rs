//! The two template features of kerchunk's version 1 documents: `{{name}}`
//! in a URL (from `templates`) and `gen`, which writes many references from
//! one pattern over ranges of integers.
//!
//! kerchunk renders both with jinja2. gridsql understands what kerchunk and
//! the documents in the wild use: a template name, or an integer expression
//! of the `gen` dimensions with `+ - * // / %` and parentheses. Anything
//! else is refused by name rather than guessed.

use std::collections::HashMap;

use serde_json::Value;

use super::document::Reference;

/// `text` with every `{{ ... }}` replaced: a template's text, or the value
/// of an integer expression of `vars`.
///
/// # Errors
/// An unclosed `{{`, an unknown name, a malformed expression.
pub(super) fn render(
    text: &str,
    templates: &HashMap<String, String>,
    vars: &HashMap<String, i64>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed '{{{{' in '{text}'"))?;
        let inner = after[..end].trim();
        match templates.get(inner) {
            Some(t) => out.push_str(t),
            None => out.push_str(
                &Expr::new(inner, vars)
                    .eval()
                    .map_err(|e| format!("'{{{{{inner}}}}}' in '{text}': {e}"))?
                    .to_string(),
            ),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Calls `emit` with every (key, reference) one `gen` entry describes.
///
/// # Errors
/// A malformed entry, or what `emit` returns.
pub(super) fn expand_gen(
    spec: &Value,
    templates: &HashMap<String, String>,
    emit: &mut dyn FnMut(String, Reference) -> Result<(), String>,
) -> Result<(), String> {
    let field = |name: &str| spec.get(name).and_then(Value::as_str);
    let key = field("key").ok_or("a 'gen' entry needs a 'key' pattern")?;
    let url = field("url").ok_or("a 'gen' entry needs a 'url' pattern")?;
    let text_of = |name: &str| -> Option<String> {
        match spec.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let (offset, length) = (text_of("offset"), text_of("length"));
    let dims: Vec<(String, Vec<i64>)> = match spec.get("dimensions") {
        Some(Value::Object(d)) => d
            .iter()
            .map(|(name, range)| Ok((name.clone(), values(name, range)?)))
            .collect::<Result<_, String>>()?,
        _ => return Err("a 'gen' entry needs 'dimensions'".into()),
    };
    let total = dims
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .filter(|&n| n <= super::document::MAX_KEYS)
        .ok_or_else(|| {
            format!(
                "'gen' for '{key}' makes more than {} keys",
                super::document::MAX_KEYS
            )
        })?;
    let mut vars: HashMap<String, i64> = HashMap::new();
    for n in 0..total {
        // the product of the dimensions, the last varying fastest
        let mut rest = n;
        for (name, vals) in dims.iter().rev() {
            vars.insert(name.clone(), vals[rest % vals.len()]);
            rest /= vals.len();
        }
        let number = |pattern: &str, what: &str| -> Result<u64, String> {
            let text = render(pattern, templates, &vars)?;
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("'gen' {what} '{text}' is not a non-negative integer"))
        };
        let reference = Reference::Range {
            url: render(url, templates, &vars)?,
            offset: match &offset {
                Some(o) => number(o, "offset")?,
                None => 0,
            },
            length: match &length {
                Some(l) => Some(number(l, "length")?),
                None => None,
            },
        };
        emit(render(key, templates, &vars)?, reference)?;
    }
    Ok(())
}

/// The values of one `gen` dimension: a list of integers, or
/// `{"start", "stop", "step"}` as Python's `range`.
fn values(name: &str, range: &Value) -> Result<Vec<i64>, String> {
    let bad = || format!("'gen' dimension '{name}' is neither a list of integers nor a range");
    match range {
        Value::Array(items) => items.iter().map(|v| v.as_i64().ok_or_else(bad)).collect(),
        Value::Object(r) => {
            let get = |k: &str, default: i64| match r.get(k) {
                None => Ok(default),
                Some(v) => v.as_i64().ok_or_else(bad),
            };
            let (start, stop, step) = (get("start", 0)?, get("stop", 0)?, get("step", 1)?);
            if step <= 0 {
                return Err(format!("'gen' dimension '{name}' has step {step}"));
            }
            let count = (stop.saturating_sub(start).max(0) as u64).div_ceil(step as u64);
            if count > super::document::MAX_KEYS as u64 {
                return Err(format!("'gen' dimension '{name}' is too long"));
            }
            Ok((0..count as i64).map(|i| start + i * step).collect())
        }
        _ => Err(bad()),
    }
}

/// A recursive-descent evaluator of integer expressions.
struct Expr<'a> {
    text: &'a [u8],
    at: usize,
    vars: &'a HashMap<String, i64>,
}

impl<'a> Expr<'a> {
    fn new(text: &'a str, vars: &'a HashMap<String, i64>) -> Self {
        Expr {
            text: text.as_bytes(),
            at: 0,
            vars,
        }
    }

    fn eval(mut self) -> Result<i64, String> {
        let v = self.sum(0)?;
        self.skip_space();
        if self.at != self.text.len() {
            return Err(format!("unexpected text at character {}", self.at + 1));
        }
        Ok(v)
    }

    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.at..].starts_with(token.as_bytes()) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn sum(&mut self, depth: usize) -> Result<i64, String> {
        let mut v = self.product(depth)?;
        loop {
            if self.eat("+") {
                v = v.checked_add(self.product(depth)?).ok_or("overflow")?;
            } else if self.eat("-") {
                v = v.checked_sub(self.product(depth)?).ok_or("overflow")?;
            } else {
                return Ok(v);
            }
        }
    }

    fn product(&mut self, depth: usize) -> Result<i64, String> {
        let mut v = self.factor(depth)?;
        loop {
            if self.eat("*") {
                v = v.checked_mul(self.factor(depth)?).ok_or("overflow")?;
            } else if self.eat("//") || self.eat("/") {
                let d = self.factor(depth)?;
                v = v.checked_div_euclid(d).ok_or("division by zero")?;
            } else if self.eat("%") {
                let d = self.factor(depth)?;
                v = v.checked_rem_euclid(d).ok_or("division by zero")?;
            } else {
                return Ok(v);
            }
        }
    }

    fn factor(&mut self, depth: usize) -> Result<i64, String> {
        if depth > 64 {
            return Err("nested too deeply".into());
        }
        if self.eat("-") {
            return self
                .factor(depth + 1)?
                .checked_neg()
                .ok_or_else(|| "overflow".into());
        }
        if self.eat("(") {
            let v = self.sum(depth + 1)?;
            if !self.eat(")") {
                return Err("missing ')'".into());
            }
            return Ok(v);
        }
        self.skip_space();
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.at += 1;
        }
        let word = std::str::from_utf8(&self.text[start..self.at]).map_err(|e| e.to_string())?;
        if word.is_empty() {
            return Err(format!(
                "expected a number or a name at character {}",
                start + 1
            ));
        }
        if word.as_bytes()[0].is_ascii_digit() {
            return word.parse().map_err(|_| format!("bad number '{word}'"));
        }
        self.vars
            .get(word)
            .copied()
            .ok_or_else(|| format!("unknown name '{word}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_expressions_render() {
        let t = HashMap::from([("u".to_string(), "s3://b/long".to_string())]);
        let v = HashMap::from([("i".to_string(), 3i64), ("j".to_string(), 2i64)]);
        assert_eq!(
            render("{{u}}/f_{{ i }}.nc", &t, &v).expect("ok"),
            "s3://b/long/f_3.nc"
        );
        assert_eq!(render("{{(i + 1) * 1000}}", &t, &v).expect("ok"), "4000");
        assert_eq!(render("{{ i*10 - j // 2 % 5 }}", &t, &v).expect("ok"), "29");
        assert!(
            render("{{k}}", &t, &v)
                .expect_err("unknown")
                .contains("'k'")
        );
        assert!(
            render("{{i", &t, &v)
                .expect_err("open")
                .contains("unclosed")
        );
        assert!(
            render("{{i / 0}}", &t, &v)
                .expect_err("zero")
                .contains("zero")
        );
        assert!(render("{{i ** 2}}", &t, &v).is_err());
    }

    #[test]
    fn gen_expands_the_product_of_its_dimensions() {
        let spec: Value = serde_json::from_str(
            r#"{"key": "v/{{i}}.{{j}}", "url": "{{u}}_{{i}}.bin",
                "offset": "{{ j * 100 }}", "length": "100",
                "dimensions": {"i": {"stop": 2}, "j": [0, 1, 2]}}"#,
        )
        .expect("json");
        let t = HashMap::from([("u".to_string(), "/d/f".to_string())]);
        let mut got = Vec::new();
        expand_gen(&spec, &t, &mut |k, r| {
            got.push((k, r));
            Ok(())
        })
        .expect("expands");
        assert_eq!(got.len(), 6);
        assert_eq!(got[4].0, "v/1.1");
        assert_eq!(
            got[4].1,
            Reference::Range {
                url: "/d/f_1.bin".into(),
                offset: 100,
                length: Some(100)
            }
        );
        let huge: Value = serde_json::from_str(
            r#"{"key": "k{{i}}{{j}}", "url": "u", "dimensions": {"i": {"stop": 100000}, "j": {"stop": 100000}}}"#,
        )
        .expect("json");
        let e = expand_gen(&huge, &t, &mut |_, _| Ok(())).expect_err("too many");
        assert!(e.contains("more than"), "{e}");
    }
}
