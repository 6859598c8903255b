//! The groups and checks tree of a run, rebuilt from the `checks` Rate series: each sample carries
//! the `check` name and the `group` path (k6's `::`-joined group names, `""` for the root).
//! Groups that only other metrics mention (e.g. an HTTP request inside a group) appear too.

use brunt_metrics::{builtin, Agg, Snapshot};
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

/// k6's separator of group names in a path.
const SEPARATOR: &str = "::";

/// A group (k6's `root_group` and below); children in the script's order where known, else by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub id: String,
    pub groups: Vec<Group>,
    pub checks: Vec<Check>,
}

/// One check's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub path: String,
    pub id: String,
    pub passes: u64,
    pub fails: u64,
}

/// k6's id of a group or check: the hex MD5 of its path.
fn id(path: &str) -> String {
    Md5::digest(path.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Group {
    fn new(name: &str, path: String) -> Group {
        Group {
            name: name.to_string(),
            id: id(&path),
            path,
            groups: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// The tree of the run's groups and checks. `order` lists group and check paths in the
    /// order the script first ran them (k6 shows them so); the rest follow by name. Checks made
    /// without the `group` system tag (`--system-tags`) are at the root when
    /// `ungrouped_at_root`, as k6's text summary lists them, and left out otherwise, as from
    /// k6's `root_group` data.
    pub fn from_snapshot(snapshot: &Snapshot, order: &[String], ungrouped_at_root: bool) -> Group {
        let mut root = Group::new("", String::new());
        for ((metric, tags), agg) in &snapshot.series {
            let path = match tags.get("group") {
                Some(path) => path,
                None if ungrouped_at_root => "",
                None => continue,
            };
            let group = root.descend(path);
            if *metric != builtin::CHECKS {
                continue;
            }
            let (Some(name), Agg::Rate { passes, total }) = (tags.get("check"), agg) else {
                continue;
            };
            let check = match group.checks.iter_mut().position(|c| c.name == name) {
                Some(i) => &mut group.checks[i],
                None => {
                    let path = format!("{}{SEPARATOR}{name}", group.path);
                    group.checks.push(Check {
                        name: name.to_string(),
                        id: id(&path),
                        path,
                        passes: 0,
                        fails: 0,
                    });
                    group.checks.last_mut().expect("just pushed")
                }
            };
            check.passes += passes;
            check.fails += total - passes;
        }
        root.sort(order);
        root
    }

    /// The group at `path` (`::a::b`), created with its parents as needed.
    fn descend(&mut self, path: &str) -> &mut Group {
        let mut g = self;
        for name in path.split(SEPARATOR).skip(1) {
            let i = match g.groups.iter().position(|c| c.name == name) {
                Some(i) => i,
                None => {
                    let child = Group::new(name, format!("{}{SEPARATOR}{name}", g.path));
                    g.groups.push(child);
                    g.groups.len() - 1
                }
            };
            g = &mut g.groups[i];
        }
        g
    }

    fn sort(&mut self, order: &[String]) {
        let rank = |path: &str| order.iter().position(|p| p == path).unwrap_or(usize::MAX);
        self.checks
            .sort_by(|a, b| (rank(&a.path), &a.name).cmp(&(rank(&b.path), &b.name)));
        self.groups
            .sort_by(|a, b| (rank(&a.path), &a.name).cmp(&(rank(&b.path), &b.name)));
        self.groups.iter_mut().for_each(|g| g.sort(order));
    }

    /// k6's handleSummary shape: `groups` and `checks` as arrays.
    pub fn to_data(&self) -> Value {
        json!({
            "name": self.name,
            "path": self.path,
            "id": self.id,
            "groups": self.groups.iter().map(Group::to_data).collect::<Vec<_>>(),
            "checks": self.checks.iter().map(Check::to_json).collect::<Vec<_>>(),
        })
    }

    /// k6's `--summary-export` shape: `groups` and `checks` as objects keyed by name.
    pub fn to_export(&self) -> Value {
        let groups: Map<String, Value> = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.to_export()))
            .collect();
        let checks: Map<String, Value> = self
            .checks
            .iter()
            .map(|c| (c.name.clone(), c.to_json()))
            .collect();
        json!({
            "name": self.name,
            "path": self.path,
            "id": self.id,
            "groups": groups,
            "checks": checks,
        })
    }
}

impl Check {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "path": self.path,
            "id": self.id,
            "passes": self.passes,
            "fails": self.fails,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{Aggregator, Registry, TagSet};
    use std::sync::Arc;

    #[test]
    fn checks_and_groups_follow_k6_paths_and_ids() {
        let reg = Arc::new(Registry::new());
        let mut a = Aggregator::new(reg, false);
        let ok = TagSet::new([("check", "status is 200"), ("group", "")]);
        let nested = TagSet::new([("check", "has id"), ("group", "::orders::create")]);
        a.add(builtin::CHECKS, &ok, 1.0);
        a.add(builtin::CHECKS, &ok, 0.0);
        a.add(builtin::CHECKS, &ok.with([("status", "500")]), 0.0);
        a.add(builtin::CHECKS, &nested, 1.0);
        a.add(
            builtin::HTTP_REQS,
            &TagSet::new([("group", "::login")]),
            1.0,
        );
        let mut s = Snapshot::default();
        s.merge_series(&a.take().series);
        let root = Group::from_snapshot(&s, &[], false);
        assert_eq!(root.id, "d41d8cd98f00b204e9800998ecf8427e"); // md5("")
        assert_eq!(root.checks.len(), 1);
        let c = &root.checks[0];
        assert_eq!((c.passes, c.fails), (1, 2));
        assert_eq!(c.path, "::status is 200");
        assert_eq!(c.id, id("::status is 200"));
        let names: Vec<&str> = root.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["login", "orders"]);
        let create = &root.groups[1].groups[0];
        assert_eq!(create.path, "::orders::create");
        assert_eq!(create.checks[0].path, "::orders::create::has id");
        let export = root.to_export();
        assert_eq!(
            export["groups"]["orders"]["groups"]["create"]["checks"]["has id"]["passes"],
            1
        );
        assert_eq!(root.to_data()["checks"][0]["fails"], 2);
    }

    #[test]
    fn the_scripts_order_comes_first() {
        let reg = Arc::new(Registry::new());
        let mut a = Aggregator::new(reg, false);
        for name in ["a", "b", "c"] {
            a.add(builtin::CHECKS, &TagSet::new([("check", name)]), 1.0);
        }
        let mut s = Snapshot::default();
        s.merge_series(&a.take().series);
        let order = ["::c".to_string(), "::a".to_string()];
        let root = Group::from_snapshot(&s, &order, true);
        let names: Vec<&str> = root.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        // Without the group tag, k6's data leaves checks out of the tree.
        assert!(Group::from_snapshot(&s, &order, false).checks.is_empty());
    }
}
