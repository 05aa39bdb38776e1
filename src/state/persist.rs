//! `--state-file FILE`: the shared variables (`global.*`, `key.*`) kept
//! across restarts. One JSON object a line, so a mistake names its line:
//! `{"scope":"global","name":"count","value":3}`,
//! `{"scope":"key","key":"s1","name":"user","value":"bob"}`.
//! Written whole to a temporary file beside it, then renamed over it, so a
//! crash mid-write leaves the previous file, never a torn one.

use std::io::Write;
use std::path::Path;

use serde_json::{Value as Json, json};

use super::{Place, Store, Value};

/// Loads `path` into `store`; a missing file is an empty state. The error
/// names the file and line and says what is wrong.
pub(crate) fn load(store: &Store, path: &Path) -> Result<usize, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(format!(
                "cannot read the state file {}: {e}",
                path.display()
            ));
        }
    };
    let mut loaded = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |why: String| {
            format!(
                "{}:{}: {why}; fix or remove the line (or the file, to start empty)",
                path.display(),
                i + 1
            )
        };
        let json: Json =
            serde_json::from_str(line).map_err(|e| fail(format!("not a JSON object ({e})")))?;
        loaded.push(entry(&json).map_err(fail)?);
    }
    let count = loaded.len();
    let mut tables = store.lock();
    for (key, name, value) in loaded {
        match &key {
            Some(key) => tables.set(Place::Key(key), &name, value),
            None => tables.set(Place::Global, &name, value),
        }
    }
    Ok(count)
}

/// One line's variable: its key (`None`: global), name and value.
fn entry(json: &Json) -> Result<(Option<String>, String, Value), String> {
    let field = |name: &str| json.get(name).ok_or(format!("no {name:?}"));
    let name = field("name")?
        .as_str()
        .filter(|n| super::value::is_name(n))
        .ok_or("\"name\" is not a variable name")?
        .to_owned();
    let value =
        Value::from_json(field("value")?).ok_or("\"value\" is neither an integer nor text")?;
    match field("scope")?.as_str() {
        Some("global") => Ok((None, name, value)),
        Some("key") => {
            let key = field("key")?.as_str().ok_or("\"key\" is not text")?;
            Ok((Some(key.to_owned()), name, value))
        }
        _ => Err("\"scope\" is neither \"global\" nor \"key\"".into()),
    }
}

/// Writes every shared variable to `path`, atomically; returns how many.
pub(crate) fn save(store: &Store, path: &Path) -> Result<usize, String> {
    let mut text = String::from("# tcpack --state-file: one variable a line\n");
    let mut count = 0;
    {
        let tables = store.lock();
        for (name, value) in &tables.global {
            let line = json!({"scope": "global", "name": name, "value": value.to_json()});
            text.push_str(&line.to_string());
            text.push('\n');
            count += 1;
        }
        let mut keys: Vec<_> = tables.keys.iter().collect();
        keys.sort_by_key(|(key, _)| *key);
        for (key, vars) in keys {
            for (name, value) in vars {
                let line =
                    json!({"scope": "key", "key": key, "name": name, "value": value.to_json()});
                text.push_str(&line.to_string());
                text.push('\n');
                count += 1;
            }
        }
    }
    let fail = |e: std::io::Error| format!("cannot write the state file {}: {e}", path.display());
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = std::path::PathBuf::from(temp);
    let mut file = std::fs::File::create(&temp).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    std::fs::rename(&temp, path).map_err(fail)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_and_a_corrupt_line() {
        let dir = std::env::temp_dir().join(format!("tcpack-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let store = Store::new(10);
        store.set(Place::Global, "count", Value::Int(3));
        store.set(Place::Key("s 1"), "user", Value::Text("bo\"b".into()));
        assert_eq!(save(&store, &path), Ok(2));
        let again = Store::new(10);
        assert_eq!(load(&again, &path), Ok(2));
        assert_eq!(again.lines(), store.lines());
        std::fs::write(
            &path,
            "# x\n{\"scope\":\"global\",\"name\":\"a\",\"value\":1}\n{\"scope\":\"glo",
        )
        .unwrap();
        let error = load(&again, &path).unwrap_err();
        assert!(error.contains("state:3: not a JSON object"), "{error}");
        std::fs::write(
            &path,
            "{\"scope\":\"global\",\"name\":\"a b\",\"value\":1}\n",
        )
        .unwrap();
        let error = load(&again, &path).unwrap_err();
        assert!(
            error.contains(":1: \"name\" is not a variable name"),
            "{error}"
        );
        assert_eq!(load(&again, &dir.join("none")), Ok(0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
