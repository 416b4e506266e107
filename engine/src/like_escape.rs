//! `LIKE ... ESCAPE 'c'` with any escape character, not only the backslash
//! DataFusion's LIKE kernels know: the pattern is rewritten to backslash
//! escapes (`c%` → `\%`, a literal `\` → `\\`) once it is a constant, so
//! also after a prepared statement's parameters are bound. SQLAlchemy's
//! PostgreSQL dialect lists schemas with `nspname NOT LIKE 'pg/_%' ESCAPE '/'`.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule.
#[derive(Debug, Default)]
pub struct LikeEscape;

impl AnalyzerRule for LikeEscape {
    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|p| {
            // a projection's columns keep the names they were planned with
            let names = NamePreserver::new(&p);
            p.map_expressions(|e| {
                let name = names.save(&e);
                let t = e.transform_up(|e| match e {
                    Expr::Like(like) => Ok(rewrite(like)),
                    other => Ok(Transformed::no(other)),
                })?;
                Ok(if t.transformed {
                    t.update_data(|e| name.restore(e))
                } else {
                    t
                })
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "gridsql_like_escape"
    }
}

fn rewrite(like: Like) -> Transformed<Expr> {
    let Some(escape) = like.escape_char.filter(|c| *c != '\\') else {
        return Transformed::no(Expr::Like(like));
    };
    // the same string type as before: LIKE wants both sides alike
    let pattern = match like.pattern.as_ref() {
        Expr::Literal(ScalarValue::Utf8(Some(p)), _) => {
            ScalarValue::Utf8(Some(with_backslashes(p, escape)))
        }
        Expr::Literal(ScalarValue::LargeUtf8(Some(p)), _) => {
            ScalarValue::LargeUtf8(Some(with_backslashes(p, escape)))
        }
        Expr::Literal(ScalarValue::Utf8View(Some(p)), _) => {
            ScalarValue::Utf8View(Some(with_backslashes(p, escape)))
        }
        _ => return Transformed::no(Expr::Like(like)),
    };
    Transformed::yes(Expr::Like(Like {
        pattern: Box::new(Expr::Literal(pattern, None)),
        escape_char: Some('\\'),
        ..like
    }))
}

/// `pattern` with `escape` as its escape character, rewritten to use `\`.
fn with_backslashes(pattern: &str, escape: char) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(n @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) => out.push(n),
                None => out.push(c),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_backslashes() {
        assert_eq!(with_backslashes("pg/_%", '/'), "pg\\_%");
        assert_eq!(with_backslashes("a//b", '/'), "a/b");
        assert_eq!(with_backslashes("a\\b!%", '!'), "a\\\\b\\%");
    }
}
