//! What a policy holds for a person's approval, summed up for a tool description.

use codemode_spec::Method;

use crate::policy::Policy;
use crate::rule::Action;

/// The requests a policy holds for approval: whole methods, and the narrower rules by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalSummary {
    /// Methods of which every request needs approval (an `approve` rule with no selector).
    pub every: Vec<Method>,
    /// The other `approve` rules, in rule order; those whose methods all fall under `every`
    /// say nothing more and are left out.
    pub rules: Vec<String>,
}

impl ApprovalSummary {
    /// Whether the policy holds no request at all.
    pub fn is_empty(&self) -> bool {
        self.every.is_empty() && self.rules.is_empty()
    }
}

impl Policy {
    /// Which requests this policy holds for approval. A rule shadowed by an earlier rule with
    /// no selector for the same methods can never decide, and is left out.
    pub fn approvals(&self) -> ApprovalSummary {
        let mut decided: Vec<Method> = Vec::new();
        let mut every = Vec::new();
        let mut narrow = Vec::new();
        for rule in self.rules() {
            let open: Vec<Method> = rule
                .methods()
                .unwrap_or(&Method::ALL)
                .iter()
                .copied()
                .filter(|method| !decided.contains(method))
                .collect();
            if rule.selects_everything() {
                if rule.action == Action::Approve {
                    every.extend(open.iter().copied());
                }
                decided.extend(open);
            } else if rule.action == Action::Approve && !open.is_empty() {
                narrow.push((rule.name.clone(), open));
            }
        }
        every.sort();
        let rules = narrow
            .into_iter()
            .filter(|(_, methods)| methods.iter().any(|method| !every.contains(method)))
            .map(|(name, _)| name)
            .collect();
        ApprovalSummary { every, rules }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_every_delete_and_the_named_writes() {
        let summary = Policy::new(Vec::new())
            .expect("the defaults are valid")
            .approvals();
        assert_eq!(summary.every, vec![Method::Delete]);
        assert_eq!(
            summary.rules,
            [
                "dns-record-writes",
                "cache-purge",
                "worker-script-upload-or-delete",
                "worker-version-upload",
                "worker-deployment",
            ]
        );
    }

    #[test]
    fn an_earlier_rule_without_selectors_shadows_the_later_ones() {
        let policy = Policy::from_toml(
            r#"
            [[rule]]
            name = "writes-are-fine"
            method = ["DELETE", "POST"]
            action = "allow"
            "#,
        )
        .expect("valid rules");
        let summary = policy.approvals();
        assert!(summary.every.is_empty(), "{summary:?}");
        assert_eq!(
            summary.rules,
            ["dns-record-writes", "worker-script-upload-or-delete",]
        );
    }
}
