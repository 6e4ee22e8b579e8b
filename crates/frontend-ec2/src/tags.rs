//! Tags kept in a Nubo object's template, one `EC2_TAG = [ KEY = "…", VALUE = "…" ]` per
//! tag, so that they travel with the object and other front ends see them.

use nubo_template::{Attribute, Template};

use crate::error::{Ec2Error, Ec2Result};

/// The template attribute of a tag.
pub const ATTR: &str = "EC2_TAG";

/// Most tags a resource may have.
pub const MAX_TAGS: usize = 50;

/// The tags in `t`, in order.
pub fn read(t: &Template) -> Vec<(String, String)> {
    t.vectors(ATTR)
        .filter_map(|pairs| {
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            Some((get("KEY")?, get("VALUE").unwrap_or_default()))
        })
        .collect()
}

fn write(t: &mut Template, tags: &[(String, String)]) {
    t.remove(ATTR);
    for (k, v) in tags {
        t.push(Attribute::vector(
            ATTR,
            [("KEY", k.clone()), ("VALUE", v.clone())],
        ));
    }
}

/// Adds or replaces `tags` in `t`; fails when that would make more than [`MAX_TAGS`].
pub fn add(t: &mut Template, tags: &[(String, String)]) -> Ec2Result<()> {
    let mut all = read(t);
    for (k, v) in tags {
        match all.iter_mut().find(|(key, _)| key == k) {
            Some(existing) => existing.1 = v.clone(),
            None => all.push((k.clone(), v.clone())),
        }
    }
    if all.len() > MAX_TAGS {
        return Err(Ec2Error::client(
            "TagLimitExceeded",
            format!("A resource can have at most {MAX_TAGS} tags"),
        ));
    }
    write(t, &all);
    Ok(())
}

/// Removes tags: every tag when `which` is empty; otherwise each key, and only where the
/// value matches when one is given.
pub fn remove(t: &mut Template, which: &[(String, Option<String>)]) {
    let all = read(t);
    let kept: Vec<(String, String)> = if which.is_empty() {
        Vec::new()
    } else {
        all.into_iter()
            .filter(|(k, v)| {
                !which
                    .iter()
                    .any(|(wk, wv)| wk == k && wv.as_ref().is_none_or(|wv| wv == v))
            })
            .collect()
    };
    write(t, &kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_added_replaced_and_removed() {
        let mut t = Template::new();
        add(
            &mut t,
            &[("Name".into(), "web".into()), ("env".into(), "prod".into())],
        )
        .expect("add");
        add(&mut t, &[("Name".into(), "db \"1\"".into())]).expect("replace");
        assert_eq!(
            read(&t),
            [
                ("Name".to_string(), "db \"1\"".to_string()),
                ("env".to_string(), "prod".to_string())
            ]
        );
        let reparsed = Template::parse(&t.to_text()).expect("round trip");
        assert_eq!(read(&reparsed), read(&t));
        remove(&mut t, &[("env".into(), Some("dev".into()))]);
        assert_eq!(read(&t).len(), 2);
        remove(&mut t, &[("env".into(), None)]);
        assert_eq!(read(&t).len(), 1);
        remove(&mut t, &[]);
        assert!(read(&t).is_empty());
        let many: Vec<(String, String)> = (0..51).map(|i| (i.to_string(), String::new())).collect();
        assert_eq!(
            add(&mut t, &many).expect_err("limit").code,
            "TagLimitExceeded"
        );
    }
}
