//! Stripe's bracket-notation forms (`items[0][price]=..`, `metadata[k]=v`, `expand[]=..`) parsed into
//! an ordered tree, for query strings and `application/x-www-form-urlencoded` bodies alike.
//!
//! The tree keeps keys as written (numeric indices stay strings and `[]` appends), so that the
//! endpoint's parameter table ([`crate::params`]) decides what is a list and what is a map: a
//! `metadata[0]=x` key stays a map key, while `items[0][price]` becomes a list element.

/// One node of a parsed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormNode {
    /// A plain value (`email=a@b.c`).
    Leaf(String),
    /// Bracketed children in first-seen order. A key of `""` came from `[]`.
    Branch(Vec<(String, FormNode)>),
}

impl FormNode {
    /// An empty branch, the root of every form.
    pub fn root() -> Self {
        FormNode::Branch(Vec::new())
    }

    /// The children of a branch (none for a leaf).
    pub fn children(&self) -> &[(String, FormNode)] {
        match self {
            FormNode::Branch(children) => children,
            FormNode::Leaf(_) => &[],
        }
    }
}

/// Parses a urlencoded string (query or body) into a tree rooted at a branch.
pub fn parse(input: &str) -> FormNode {
    let mut root = FormNode::root();
    for (key, value) in form_urlencoded::parse(input.as_bytes()) {
        let path = split_key(&key);
        insert(&mut root, &path, value.into_owned());
    }
    root
}

/// Splits `a[b][][c]` into `["a", "b", "", "c"]`. A key with unbalanced brackets is kept whole.
pub fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_string()];
    };
    let mut parts = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while !rest.is_empty() {
        let Some(stripped) = rest.strip_prefix('[') else {
            return vec![key.to_string()];
        };
        let Some(close) = stripped.find(']') else {
            return vec![key.to_string()];
        };
        parts.push(stripped[..close].to_string());
        rest = &stripped[close + 1..];
    }
    parts
}

fn insert(node: &mut FormNode, path: &[String], value: String) {
    let Some((head, tail)) = path.split_first() else {
        return;
    };
    if let FormNode::Leaf(_) = node {
        // `a=1&a[b]=2`: the later, deeper form wins, as in Rack.
        *node = FormNode::root();
    }
    let FormNode::Branch(children) = node else {
        return;
    };
    if tail.is_empty() {
        if head.is_empty() {
            children.push((String::new(), FormNode::Leaf(value)));
        } else if let Some(slot) = children.iter_mut().find(|(k, _)| k == head) {
            slot.1 = FormNode::Leaf(value);
        } else {
            children.push((head.clone(), FormNode::Leaf(value)));
        }
        return;
    }
    let index = if head.is_empty() {
        // `items[][price]=a&items[][quantity]=1`: reuse the last element until a key repeats.
        let reuse = children.last().is_some_and(|(k, child)| {
            k.is_empty() && matches!(child, FormNode::Branch(_)) && !contains_path(child, tail)
        });
        if !reuse {
            children.push((String::new(), FormNode::root()));
        }
        children.len() - 1
    } else if let Some(i) = children.iter().position(|(k, _)| k == head) {
        i
    } else {
        children.push((head.clone(), FormNode::root()));
        children.len() - 1
    };
    insert(&mut children[index].1, tail, value);
}

fn contains_path(node: &FormNode, path: &[String]) -> bool {
    let Some((head, tail)) = path.split_first() else {
        return true;
    };
    if head.is_empty() {
        return false;
    }
    node.children()
        .iter()
        .find(|(k, _)| k == head)
        .is_some_and(|(_, child)| tail.is_empty() || contains_path(child, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(s: &str) -> FormNode {
        FormNode::Leaf(s.to_string())
    }

    fn branch(children: &[(&str, FormNode)]) -> FormNode {
        FormNode::Branch(
            children
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn plain_keys_are_percent_decoded_leaves() {
        // GIVEN a flat form with encoded characters
        // WHEN it is parsed
        let tree = parse("email=a%40b.c&name=Ann+Lee");
        // THEN each key is a decoded leaf, in order
        assert_eq!(
            tree,
            branch(&[("email", leaf("a@b.c")), ("name", leaf("Ann Lee"))])
        );
    }

    #[test]
    fn bracketed_keys_nest_and_keep_numeric_indices_as_keys() {
        let tree = parse("items[0][price]=p1&items[1][price]=p2&items[0][quantity]=3");
        assert_eq!(
            tree,
            branch(&[(
                "items",
                branch(&[
                    (
                        "0",
                        branch(&[("price", leaf("p1")), ("quantity", leaf("3"))])
                    ),
                    ("1", branch(&[("price", leaf("p2"))])),
                ])
            )])
        );
    }

    #[test]
    fn empty_brackets_append_scalars_and_group_objects_until_a_key_repeats() {
        let tree = parse(
            "expand[]=a&expand[]=b&tiers[][up_to]=1000&tiers[][unit_amount]=0&tiers[][up_to]=inf",
        );
        assert_eq!(
            tree,
            branch(&[
                ("expand", branch(&[("", leaf("a")), ("", leaf("b"))])),
                (
                    "tiers",
                    branch(&[
                        (
                            "",
                            branch(&[("up_to", leaf("1000")), ("unit_amount", leaf("0"))])
                        ),
                        ("", branch(&[("up_to", leaf("inf"))])),
                    ])
                ),
            ])
        );
    }

    #[test]
    fn encoded_brackets_are_understood() {
        let tree = parse("metadata%5Bcognito_sub%5D=abc");
        assert_eq!(
            tree,
            branch(&[("metadata", branch(&[("cognito_sub", leaf("abc"))]))])
        );
    }

    #[test]
    fn a_repeated_plain_key_keeps_the_last_value() {
        assert_eq!(parse("a=1&a=2"), branch(&[("a", leaf("2"))]));
    }

    #[test]
    fn unbalanced_brackets_keep_the_key_whole() {
        assert_eq!(split_key("a[b"), vec!["a[b".to_string()]);
        assert_eq!(split_key("a[b]c"), vec!["a[b]c".to_string()]);
        assert_eq!(split_key("a[b][]"), vec!["a", "b", ""]);
    }

    #[test]
    fn empty_input_is_an_empty_root() {
        assert_eq!(parse(""), FormNode::root());
    }
}
