//! `optlab optimizers`: every optimizer with its hyperparameters, defaults, ranges and conventions.

use optlab_optim::{registry, Parity};
use std::fmt::Write;

/// Human-readable description of every registered optimizer.
pub fn optimizers_text() -> String {
    let mut out = String::new();
    for e in registry::REGISTRY {
        let s = (e.spec)();
        let _ = writeln!(out, "{} — {}", s.name, s.summary);
        let _ = writeln!(out, "  reference: {}", s.reference);
        let _ = writeln!(out, "  checked against: {}", s.parity.text());
        if s.needs_hessian {
            let _ = writeln!(out, "  needs: the Hessian diagonal at each step");
        }
        let w = s.hypers.iter().map(|h| h.name.len()).max().unwrap_or(0);
        let dw = s.hypers.iter().map(|h| h.default_text().len()).max().unwrap_or(0);
        for h in s.hypers {
            let _ = writeln!(
                out,
                "  {:w$}  default {:dw$}  valid {}{}  {}",
                h.name,
                h.default_text(),
                h.kind.range_text(),
                if h.schedulable() { ", schedulable" } else { "" },
                h.doc,
            );
        }
        for c in s.conventions {
            let _ = writeln!(out, "  convention: {c}");
        }
        for v in s.variants {
            let _ = writeln!(out, "  variant {}: {}", v.name, v.label(s.name));
        }
        out.push('\n');
    }
    out
}

/// The same as JSON (for tools and the report).
pub fn optimizers_json() -> serde_json::Value {
    let list: Vec<serde_json::Value> = registry::REGISTRY
        .iter()
        .map(|e| {
            let s = (e.spec)();
            serde_json::json!({
                "name": s.name,
                "summary": s.summary,
                "reference": s.reference,
                "needs_hessian": s.needs_hessian,
                "conventions": s.conventions,
                "parity": match s.parity {
                    Parity::Torch(c) => serde_json::json!({"kind": "torch", "class": c}),
                    Parity::Reference(p) => serde_json::json!({"kind": "reference", "package": p}),
                    Parity::Hand => serde_json::json!({"kind": "hand-derived"}),
                },
                "variants": s.variants.iter().map(|v| serde_json::json!({
                    "name": v.name,
                    "label": v.label(s.name),
                    "set": v.set.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
                    "bench": v.bench,
                })).collect::<Vec<_>>(),
                "hyperparameters": s.hypers.iter().map(|h| serde_json::json!({
                    "name": h.name,
                    "default": h.default_text(),
                    "valid": h.kind.range_text(),
                    "schedulable": h.schedulable(),
                    "doc": h.doc,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::Value::Array(list)
}
