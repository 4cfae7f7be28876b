use super::*;

fn note(text: &str) -> Event {
    Event::Note {
        step: "s".into(),
        text: text.into(),
        operator: "ana".into(),
    }
}

#[test]
fn chain_links_each_line_to_the_previous() -> Result<(), JournalError> {
    let dir = tempfile::tempdir().map_err(io(Path::new("tmp")))?;
    let (mut j, first) = Journal::create(dir.path(), note("one"), &[])?;
    let second = j.append(note("two"))?;
    assert_eq!(first.entry.prev, GENESIS);
    assert_eq!(second.entry.prev, sha256_hex(first.line.as_bytes()));
    assert_eq!(second.entry.seq, 1);
    let text = fs::read_to_string(dir.path().join(JOURNAL_FILE)).map_err(io(Path::new("j")))?;
    assert_eq!(text, format!("{}\n{}\n", first.line, second.line));
    assert!(
        first.line.starts_with(r#"{"seq":0,"ts":""#),
        "{}",
        first.line
    );
    assert!(first.line.contains(r#""kind":"note""#));
    Ok(())
}

#[test]
fn two_writers_interleave_and_learn_of_each_other() -> Result<(), JournalError> {
    let dir = tempfile::tempdir().map_err(io(Path::new("tmp")))?;
    let (mut a, _) = Journal::create(dir.path(), note("a0"), &[])?;
    let (mut b, seen, torn) = Journal::open(dir.path())?;
    assert_eq!((seen.len(), torn), (1, None));
    b.append(note("b1"))?;
    let a2 = a.append(note("a2"))?;
    assert_eq!(a2.foreign.len(), 1);
    assert_eq!(a2.entry.seq, 2);
    assert_eq!(b.poll()?.len(), 1);
    assert_eq!(read_entries(dir.path())?.len(), 3);
    Ok(())
}

#[test]
fn torn_tail_is_moved_aside_and_recorded() -> Result<(), JournalError> {
    let dir = tempfile::tempdir().map_err(io(Path::new("tmp")))?;
    let (j, _) = Journal::create(dir.path(), note("a0"), &[])?;
    drop(j);
    let path = dir.path().join(JOURNAL_FILE);
    let mut f = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    f.write_all(br#"{"seq":1,"ts":"2026"#).map_err(io(&path))?;
    let (_, entries, torn) = Journal::open(dir.path())?;
    let torn = torn.ok_or_else(|| JournalError::Missing(path.clone()))?;
    assert_eq!(torn.bytes, 19);
    assert_eq!(
        fs::read(&torn.saved_as).map_err(io(&path))?,
        br#"{"seq":1,"ts":"2026"#
    );
    assert!(matches!(
        entries.last().map(|e| &e.event),
        Some(Event::TornTail { bytes: 19, .. })
    ));
    Ok(())
}
