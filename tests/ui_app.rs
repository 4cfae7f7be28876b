//! The app driven deterministically: keys and scripted engine events in, effects and screens
//! out. No terminal, no network, no sleeps. Screens are insta snapshots of a TestBackend.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rehearse::action::{Action, Internal};
use rehearse::app::{App, Dialog, Effect, Pane, TargetView};
use rehearse::journal::{Entry, Event, Journal, Outcome};
use rehearse::keymap::Keymap;
use rehearse::runbook::{self, Runbook};
use rehearse::runner::RunnerEvent;
use rehearse::theme::Theme;
use rehearse::ui::Screen;

fn demo() -> Arc<Runbook> {
    Arc::new(runbook::load(Path::new("runbooks/demo-staging.toml")).expect("demo runbook"))
}

/// The session id the scripted commands and the app share: proposals follow only the
/// commands this session started.
const SESSION: &str = "test-host:1";

/// Tell the app its size the way the runtime does: with the log pane measured.
fn resize(app: &mut App, w: u16, h: u16) {
    let log = rehearse::ui::log_inside(app, (w, h));
    app.update(Action::Internal(Internal::Resize { size: (w, h), log }));
}

/// A real journal in a temp dir, so entries carry true seq/prev; returns the entries.
struct Script {
    _dir: tempfile::TempDir,
    journal: Journal,
    entries: Vec<Entry>,
}

impl Script {
    fn new() -> Script {
        let dir = tempfile::tempdir().expect("tmp");
        let (journal, first) = Journal::create(
            dir.path(),
            Event::Note {
                step: "preflight".into(),
                text: "begin".into(),
                operator: "ana".into(),
            },
            &[],
        )
        .expect("journal");
        Script {
            _dir: dir,
            journal,
            entries: vec![first.entry],
        }
    }

    fn push(&mut self, e: Event) -> Entry {
        let a = self.journal.append(e).expect("append");
        self.entries.push(a.entry.clone());
        a.entry
    }

    fn started(&mut self, step: &str, cmd: &str) -> Entry {
        self.push(Event::CommandStarted {
            step: step.into(),
            command: cmd.into(),
            target: "staging".into(),
            run: format!("run {cmd}"),
            operator: "ana".into(),
            session: Some(SESSION.into()),
        })
    }

    fn finished(&mut self, step: &str, cmd: &str, started: u64, outcome: Outcome) -> Entry {
        self.push(Event::CommandFinished {
            step: step.into(),
            command: cmd.into(),
            started_seq: started,
            exit_status: Some(if outcome == Outcome::Passed { 0 } else { 1 }),
            signal: None,
            duration_ms: 42,
            output_sha256: "0".repeat(64),
            output_bytes: 3,
            outcome,
            reason: (outcome != Outcome::Passed).then(|| "exit 1, expected exit 0".into()),
        })
    }
}

fn app(rb: Arc<Runbook>, entries: &[Entry]) -> App {
    let given: Vec<(String, String)> = rb
        .vars
        .iter()
        .filter(|v| v.name == "db_password")
        .map(|v| (v.name.clone(), "s3cret-value".into()))
        .collect();
    let (vars, _) = rb.resolve_vars(&given).expect("vars");
    let mut a = App::new(rb, entries, vars, "ana".into(), Keymap::default());
    a.session = SESSION.into();
    a.targets = vec![TargetView {
        name: "staging".into(),
        endpoint: "deploy@127.0.0.1:2222".into(),
        connected: true,
    }];
    a
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn feed(app: &mut App, e: Entry) -> Vec<Effect> {
    app.update(Action::Internal(Internal::Runner(RunnerEvent::Recorded(
        Box::new(e),
    ))))
}

fn screen(app: &mut App, w: u16, h: u16, theme: &Theme) -> String {
    resize(app, w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| f.render_widget(Screen { app, theme }, f.area()))
        .expect("draw");
    t.backend().to_string()
}

/// The selected step's log, as text.
fn log_lines(a: &App) -> Vec<String> {
    (0..a.log().map_or(0, |l| l.len()))
        .filter_map(|i| a.log().and_then(|l| l.get(i)).map(|l| l.text))
        .collect()
}

fn dark() -> Theme {
    Theme::load("dark").expect("theme")
}

#[test]
fn enter_runs_the_next_command_and_output_streams_into_the_step_log() {
    let rb = demo();
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Effect::Run {
            step: "preflight".into(),
            index: 0
        }]
    );
    assert!(a.busy.is_some());
    // A second Enter while busy does not start another command.
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    let st = s.started("preflight", "tools");
    feed(&mut a, st.clone());
    a.update(Action::Internal(Internal::Runner(RunnerEvent::Output {
        started_seq: st.seq,
        step: "preflight".into(),
        command: "tools".into(),
        stderr: false,
        bytes: b"all tools present\n".to_vec().into(),
    })));
    feed(
        &mut a,
        s.finished("preflight", "tools", st.seq, Outcome::Passed),
    );
    a.update(Action::Internal(Internal::CommandDone {
        step: "preflight".into(),
        error: None,
    }));
    assert!(a.busy.is_none());
    let log = log_lines(&a);
    assert_eq!(
        log,
        [
            "$ tools on staging (ana)",
            "  run tools",
            "all tools present",
            "✓ passed (exit 0, 42 ms)"
        ]
    );
    let text = screen(&mut a, 80, 24, &dark());
    assert!(text.contains("Expectation passed"), "{text}");
    assert!(!text.contains("still running"), "{text}");
    // Confirming the proposal records the tick, attributed to the command.
    let fx = a.on_key(key(KeyCode::Char('y')));
    assert_eq!(
        fx,
        vec![Effect::Record(Event::CheckToggled {
            step: "preflight".into(),
            item: "tools".into(),
            checked: true,
            operator: "ana".into(),
            proposed_by: Some("tools".into()),
        })]
    );
    // The next Enter runs the second command.
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Effect::Run {
            step: "preflight".into(),
            index: 1
        }]
    );
}

#[test]
fn confirm_dialog_shows_the_resolved_command_and_secrets_stay_masked() {
    let rb = demo();
    let mut s = Script::new();
    for (i, (step, cmds)) in [("installer", vec!["install"])].iter().enumerate() {
        let _ = i;
        for c in cmds {
            let st = s.started(step, c);
            s.finished(step, c, st.seq, Outcome::Passed);
        }
    }
    let mut a = app(rb.clone(), &s.entries);
    a.selected = rb.step_index("installer").expect("installer");
    assert!(a.on_key(key(KeyCode::Enter)).is_empty(), "confirm first");
    let text = screen(&mut a, 80, 24, &dark());
    assert!(text.contains("Confirm command"), "{text}");
    assert!(text.contains("installer/lock-installer"), "{text}");
    assert!(
        text.contains("on staging (deploy@127.0.0.1:2222)"),
        "{text}"
    );
    assert!(text.contains("host key not seen yet"), "{text}");
    assert!(text.contains("rm -f releases/*/install.php"), "{text}");
    // Enter, the key that opened it, never confirms: a double press runs nothing.
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(a.dialog.is_some());
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Effect::Run {
            step: "installer".into(),
            index: 1
        }]
    );

    // A command with a secret shows its placeholder, never the value.
    a.selected = rb.step_index("env").expect("env");
    a.busy = None;
    let step = rb.step("env").expect("env").clone();
    let shown = step.commands[1]
        .run
        .render(
            &rb.resolve_vars(&[("db_password".into(), "s3cret-value".into())])
                .expect("v")
                .0,
        )
        .expect("render");
    assert!(
        shown.display.contains("[secret:db_password]") && !shown.display.contains("s3cret-value")
    );
}

#[test]
fn sign_off_needs_a_finished_step_then_records_the_note() {
    let rb = demo();
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    assert!(a.on_key(key(KeyCode::Char('s'))).is_empty());
    assert!(a.dialog.is_none());
    assert!(
        a.message
            .as_deref()
            .is_some_and(|m| m.contains("before signing off")),
        "{:?}",
        a.message
    );
    for c in ["tools", "disk"] {
        let st = s.started("preflight", c);
        feed(&mut a, st.clone());
        feed(&mut a, s.finished("preflight", c, st.seq, Outcome::Passed));
        // `tools` proves a checklist item: leave the proposal for now.
        if matches!(a.dialog, Some(Dialog::ProposeTick { .. })) {
            a.on_key(key(KeyCode::Esc));
        }
    }
    a.on_key(key(KeyCode::Char('s')));
    assert!(a.dialog.is_some());
    for c in "ok".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    let fx = a.on_key(key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Record(Event::Signoff {
            step: "preflight".into(),
            operator: "ana".into(),
            note: "ok".into(),
            key_fingerprint: None
        })]
    );
}

#[test]
fn waiver_requires_a_reason_and_quit_asks_while_running() {
    let rb = demo();
    let s = Script::new();
    let mut a = app(rb, &s.entries);
    a.on_key(key(KeyCode::Char('w')));
    assert!(
        a.on_key(key(KeyCode::Enter)).is_empty(),
        "empty reason refused"
    );
    assert!(a.dialog.is_some());
    for c in "n/a".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    assert!(
        matches!(a.on_key(key(KeyCode::Enter)).as_slice(), [Effect::Record(Event::Waiver { reason, item: None, .. })] if reason == "n/a")
    );

    a.on_key(key(KeyCode::Enter));
    assert!(a.busy.is_some());
    assert!(a.on_key(key(KeyCode::Char('q'))).is_empty());
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Effect::Cancel, Effect::Quit]
    );
}

#[test]
fn tab_cycles_focus_and_space_toggles_the_focused_item() {
    let rb = demo();
    let s = Script::new();
    let mut a = app(rb, &s.entries);
    let order: Vec<Pane> = (0..4)
        .map(|_| {
            a.on_key(key(KeyCode::Tab));
            a.focus
        })
        .collect();
    assert_eq!(order, [Pane::Log, Pane::Checklist, Pane::Gate, Pane::Steps]);
    a.focus = Pane::Checklist;
    a.on_key(key(KeyCode::Down));
    let fx = a.on_key(key(KeyCode::Char(' ')));
    assert!(
        matches!(fx.as_slice(), [Effect::Record(Event::CheckToggled { item, checked: true, .. })] if item == "host-key"),
        "{fx:?}"
    );
}

#[test]
fn gate_verdict_change_is_recorded() {
    let rb = Arc::new(
        runbook::parse(
            "id = \"g\"\ntitle = \"G\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nlevel = \"must\"\n[[steps.commands]]\nname = \"c\"\nrun = \"true\"\ntarget = \"local\"\n",
            Path::new("g.toml"),
        )
        .expect("runbook"),
    );
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    let st = s.started("a", "c");
    feed(&mut a, st.clone());
    let fx = feed(&mut a, s.finished("a", "c", st.seq, Outcome::Passed));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Record(Event::Gate { open: true, .. })]
        ),
        "{fx:?}"
    );
}

#[test]
fn too_small_terminal_says_so_instead_of_panicking() {
    let s = Script::new();
    let mut a = app(demo(), &s.entries);
    for (w, h) in [(59, 20), (60, 19), (20, 5), (1, 1), (0, 0)] {
        if (3..50).contains(&w) {
            let text = screen(&mut a, w, h, &dark());
            assert!(text.contains("too small"), "{text}");
        }
        let text = screen(&mut a, w.max(1), h.max(1), &dark());
        if w >= 50 {
            assert!(
                text.contains(&format!("terminal too small: {w}×{h}, need 60×20")),
                "{w}x{h}: {text}"
            );
        }
    }
    // The sizes people have are not too small.
    for (w, h) in [(80, 23), (60, 20)] {
        let text = screen(&mut a, w, h, &dark());
        assert!(
            !text.contains("too small") && text.contains("Steps 0/11"),
            "{text}"
        );
    }
}

/// Screen rows as plain text, for reading wrapped content back.
fn rows(app: &mut App, w: u16, h: u16, theme: &Theme) -> Vec<String> {
    resize(app, w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| f.render_widget(Screen { app, theme }, f.area()))
        .expect("draw");
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect()
}

#[test]
fn below_the_minimum_no_key_acts_but_quit() {
    let s = Script::new();
    let mut a = app(demo(), &s.entries);
    resize(&mut a, 50, 15);
    for k in [
        KeyCode::Enter,
        KeyCode::Char(' '),
        KeyCode::Char('w'),
        KeyCode::Tab,
    ] {
        assert!(a.on_key(key(k)).is_empty(), "{k:?} acted");
    }
    assert!(a.busy.is_none() && a.dialog.is_none() && a.focus == Pane::Steps);
    // A dialog opened at a usable size cannot be answered once it is hidden.
    resize(&mut a, 80, 24);
    a.on_key(key(KeyCode::Char('w')));
    for c in "skip".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    resize(&mut a, 50, 15);
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(
        a.on_key(key(KeyCode::Char('q'))).is_empty(),
        "quit asks nothing hidden"
    );
    let text = screen(&mut a, 50, 15, &dark());
    assert!(text.contains("a question is waiting"), "{text}");
    // Back at a usable size the dialog is still there, and quit works when nothing waits.
    resize(&mut a, 80, 23);
    assert!(a.dialog.is_some());
    a.on_key(key(KeyCode::Esc));
    resize(&mut a, 50, 15);
    assert_eq!(a.on_key(key(KeyCode::Char('q'))), vec![Effect::Quit]);
}

#[test]
fn compact_layout_shows_one_pane_and_tab_switches_it() {
    let (rb, s) = walked();
    for (w, h) in [(80, 23), (60, 20)] {
        let mut a = app(rb.clone(), &s.entries);
        a.selected = rb.step_index("env").expect("env");
        let shows = |a: &mut App| -> (bool, bool, bool, String) {
            let text = screen(a, w, h, &dark());
            (
                text.contains("Log · env"),
                text.contains("Checklist 0/1"),
                text.contains("SHUT"),
                text,
            )
        };
        let (log, check, gate, text) = shows(&mut a);
        assert!(log && !check && !gate, "{w}x{h} steps focus: {text}");
        assert!(text.contains("[Log] Tab"), "{text}");
        let mut seen = Vec::new();
        for _ in 0..4 {
            a.on_key(key(KeyCode::Tab));
            let (log, check, gate, text) = shows(&mut a);
            assert_eq!(
                usize::from(log) + usize::from(check) + usize::from(gate),
                1,
                "one pane at a time: {text}"
            );
            seen.push((a.focus, log, check, gate));
        }
        assert_eq!(
            seen,
            [
                (Pane::Log, true, false, false),
                (Pane::Checklist, false, true, false),
                (Pane::Gate, false, false, true),
                (Pane::Steps, true, false, false),
            ]
        );
        // The mouse finds the pane that is shown, not the ones hidden under it.
        a.focus = Pane::Gate;
        let hit = rehearse::ui::hit(&a, w - 5, h - 5);
        assert_eq!(hit.pane, Some(Pane::Gate));
    }
}

#[test]
fn detail_view_shows_a_500_character_line_whole() {
    let rb = demo();
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    let long: String = (0..500u32)
        .map(|i| char::from(b'a' + u8::try_from(i % 26).expect("letter")))
        .collect();
    let st = s.started("preflight", "tools");
    feed(&mut a, st.clone());
    a.update(Action::Internal(Internal::Runner(RunnerEvent::Output {
        started_seq: st.seq,
        step: "preflight".into(),
        command: "tools".into(),
        stderr: true,
        bytes: format!("{long}\nlast line\n").into_bytes().into(),
    })));
    for (w, h) in [(80, 23), (60, 20), (200, 50)] {
        a.focus = Pane::Log;
        resize(&mut a, w, h);
        let shown = rows(&mut a, w, h, &dark()).concat();
        assert!(!shown.contains(&long), "the pane cuts it");
        assert!(a.on_key(key(KeyCode::Char('v'))).is_empty());
        let r = rows(&mut a, w, h, &dark());
        let inside: String = r
            .iter()
            .map(|l| {
                l.trim_start_matches(['│', '┃'])
                    .trim_end_matches(['│', '┃', ' '])
                    .to_string()
            })
            .collect();
        assert!(inside.contains(&long), "{w}x{h}:\n{}", r.join("\n"));
        // Keys for the panes behind do nothing while it is open; Esc closes it.
        assert!(a.on_key(key(KeyCode::Enter)).is_empty());
        assert!(a.busy.is_none());
        a.on_key(key(KeyCode::Esc));
        assert!(a.detail.is_none());
    }
}

#[test]
fn detail_view_scrolls_and_stops_at_the_ends() {
    let rb = demo();
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    let st = s.started("preflight", "tools");
    feed(&mut a, st.clone());
    let out: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    a.update(Action::Internal(Internal::Runner(RunnerEvent::Output {
        started_seq: st.seq,
        step: "preflight".into(),
        command: "tools".into(),
        stderr: false,
        bytes: out.into_bytes().into(),
    })));
    a.focus = Pane::Log;
    resize(&mut a, 60, 20);
    a.on_key(key(KeyCode::Char('v')));
    // A followed log opens at its end.
    let text = screen(&mut a, 60, 20, &dark());
    assert!(
        text.contains("line 100") && !text.contains("line 50 "),
        "{text}"
    );
    a.on_key(key(KeyCode::Char('g')));
    let text = screen(&mut a, 60, 20, &dark());
    assert!(
        text.contains("line 1 ") && !text.contains("line 100"),
        "{text}"
    );
    for _ in 0..3 {
        a.on_key(key(KeyCode::Up));
    }
    assert!(screen(&mut a, 60, 20, &dark()).contains("line 1 "));
    for _ in 0..20 {
        a.on_key(key(KeyCode::PageDown));
    }
    assert!(screen(&mut a, 60, 20, &dark()).contains("line 100"));
}

#[test]
fn snapshot_detail_view_of_a_step_80x23() {
    let (rb, s) = walked();
    let mut a = app(rb.clone(), &s.entries);
    a.selected = rb.step_index("env").expect("env");
    a.message = Some(
        "staging: connect to deploy@127.0.0.1:2222 failed: host key for 127.0.0.1 changed: \
         SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU is not the pinned key"
            .into(),
    );
    resize(&mut a, 80, 23);
    a.on_key(key(KeyCode::Char('v')));
    insta::assert_snapshot!(screen(&mut a, 80, 23, &dark()));
}

#[test]
fn snapshot_main_screen_60x20() {
    let (rb, s) = walked();
    let mut a = app(rb.clone(), &s.entries);
    a.selected = rb.step_index("env").expect("env");
    insta::assert_snapshot!(screen(&mut a, 60, 20, &dark()));
}

#[test]
fn snapshot_main_screen_80x23() {
    let (rb, s) = walked();
    let mut a = app(rb.clone(), &s.entries);
    a.selected = rb.step_index("env").expect("env");
    a.focus = Pane::Gate;
    insta::assert_snapshot!(screen(&mut a, 80, 23, &dark()));
}

fn walked() -> (Arc<Runbook>, Script) {
    let rb = demo();
    let mut s = Script::new();
    for c in ["tools", "disk"] {
        let st = s.started("preflight", c);
        s.finished("preflight", c, st.seq, Outcome::Passed);
    }
    s.push(Event::CheckToggled {
        step: "preflight".into(),
        item: "tools".into(),
        checked: true,
        operator: "ana".into(),
        proposed_by: Some("tools".into()),
    });
    s.push(Event::Signoff {
        step: "preflight".into(),
        operator: "ana".into(),
        note: "host checked".into(),
        key_fingerprint: None,
    });
    let st = s.started("env", "template");
    s.finished("env", "template", st.seq, Outcome::Passed);
    let st = s.started("env", "render");
    s.finished("env", "render", st.seq, Outcome::Failed);
    (rb, s)
}

#[test]
fn snapshot_main_screen_80x24() {
    let (rb, s) = walked();
    let mut a = app(rb.clone(), &s.entries);
    a.selected = rb.step_index("env").expect("env");
    insta::assert_snapshot!(screen(&mut a, 80, 24, &dark()));
}

#[test]
fn snapshot_main_screen_160x48() {
    let (rb, s) = walked();
    let mut a = app(rb, &s.entries);
    insta::assert_snapshot!(screen(&mut a, 160, 48, &dark()));
}

#[test]
fn snapshot_help_overlay_80x24() {
    let s = Script::new();
    let mut a = app(demo(), &s.entries);
    a.on_key(key(KeyCode::Char('?')));
    insta::assert_snapshot!(screen(&mut a, 80, 24, &dark()));
}

#[test]
fn snapshot_sign_off_dialog_80x24() {
    let (rb, s) = walked();
    let mut a = app(rb, &s.entries);
    a.selected = 0;
    a.on_key(key(KeyCode::Char('s')));
    for c in "DNS ok".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    insta::assert_snapshot!(screen(&mut a, 80, 24, &dark()));
}

#[test]
fn snapshot_host_key_dialog_80x24() {
    let s = Script::new();
    let mut a = app(demo(), &s.entries);
    a.update(Action::Internal(Internal::HostKey(
        7,
        rehearse::exec::HostKeyQuestion {
            target: "staging".into(),
            host: "127.0.0.1".into(),
            port: 2222,
            algorithm: "ssh-ed25519".into(),
            fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU".into(),
            known_hosts: Some("/home/ana/.ssh/known_hosts".into()),
        },
    )));
    insta::assert_snapshot!(screen(&mut a, 80, 24, &dark()));
    let fx = a.on_key(key(KeyCode::Down));
    assert!(fx.is_empty());
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Effect::AnswerHostKey {
            id: 7,
            decision: rehearse::exec::TrustDecision::AcceptOnce
        }]
    );
}

#[test]
fn every_theme_draws_every_screen() {
    let (rb, s) = walked();
    for name in ["dark", "light", "high-contrast"] {
        let theme = Theme::load(name).expect("theme");
        let mut a = app(rb.clone(), &s.entries);
        let text = screen(&mut a, 80, 24, &theme);
        assert!(text.contains("Steps 1/11"), "{name}: {text}");
        a.on_key(key(KeyCode::Char('?')));
        assert!(screen(&mut a, 160, 48, &theme).contains("Keys (any key closes)"));
    }
}

#[test]
fn ansi_colours_in_plain_output_are_drawn() {
    let rb = demo();
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    let st = s.started("preflight", "tools");
    feed(&mut a, st.clone());
    a.update(Action::Internal(Internal::Runner(RunnerEvent::Output {
        started_seq: st.seq,
        step: "preflight".into(),
        command: "tools".into(),
        stderr: false,
        bytes: b"\x1b[1;31mFAIL\x1b[0m but \x1b[32mok\x1b[0m\n"
            .to_vec()
            .into(),
    })));
    resize(&mut a, 80, 24);
    let theme = dark();
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    t.draw(|f| {
        f.render_widget(
            Screen {
                app: &a,
                theme: &theme,
            },
            f.area(),
        )
    })
    .expect("draw");
    let buf = t.backend().buffer().clone();
    let find = |text: &str| -> (u16, u16) {
        for y in 0..24 {
            let row: String = (0..80).map(|x| buf[(x, y)].symbol().to_string()).collect();
            if let Some(i) = row.find(text) {
                return (u16::try_from(row[..i].chars().count()).expect("col"), y);
            }
        }
        panic!("{text} not on screen");
    };
    let (x, y) = find("FAIL but ok");
    assert_eq!(buf[(x, y)].fg, ratatui::style::Color::Indexed(1));
    assert!(
        buf[(x, y)]
            .modifier
            .contains(ratatui::style::Modifier::BOLD)
    );
    assert_eq!(buf[(x + 9, y)].fg, ratatui::style::Color::Indexed(2));
}

#[test]
fn pty_output_is_drawn_through_a_terminal_emulator_then_kept_as_lines() {
    let rb = Arc::new(
        runbook::parse(
            "id = \"p\"\ntitle = \"P\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nlevel = \"must\"\n[[steps.commands]]\nname = \"bar\"\nrun = \"progress\"\ntarget = \"local\"\npty = true\n",
            Path::new("p.toml"),
        )
        .expect("runbook"),
    );
    let mut s = Script::new();
    let mut a = app(rb, &s.entries);
    resize(&mut a, 80, 24);
    let st = s.started("a", "bar");
    feed(&mut a, st.clone());
    assert!(a.term.is_some());
    for chunk in [
        &b"\x1b[2J\x1b[Hdownloading  10%"[..],
        b"\rdownloading  60%",
        b"\rdownloading 100%\r\n\x1b[32mdone\x1b[0m",
    ] {
        a.update(Action::Internal(Internal::Runner(RunnerEvent::Output {
            started_seq: st.seq,
            step: "a".into(),
            command: "bar".into(),
            stderr: false,
            bytes: chunk.to_vec().into(),
        })));
    }
    let text = screen(&mut a, 80, 24, &dark());
    assert!(
        text.contains("downloading 100%") && !text.contains("downloading  60%"),
        "{text}"
    );
    feed(&mut a, s.finished("a", "bar", st.seq, Outcome::Passed));
    assert!(a.term.is_none());
    let log = log_lines(&a);
    assert!(
        log.contains(&"downloading 100%".to_string()) && log.contains(&"done".to_string()),
        "{log:?}"
    );
}

#[test]
fn mouse_click_selects_a_step_and_a_pane_and_the_wheel_scrolls() {
    let s = Script::new();
    let mut a = app(demo(), &s.entries);
    resize(&mut a, 80, 24);
    // Row 4 of the screen is the third step (row 1 is the MUST heading).
    let hit = |a: &App, x, y| rehearse::ui::hit(a, x, y);
    a.update(Action::Internal(Internal::Click(hit(&a, 5, 4))));
    assert_eq!((a.focus, a.selected), (Pane::Steps, 2));
    a.update(Action::Internal(Internal::Scroll(hit(&a, 5, 4), 1)));
    assert_eq!(a.selected, 3);
    a.update(Action::Internal(Internal::Click(hit(&a, 5, 17))));
    assert_eq!(a.focus, Pane::Checklist);
    a.update(Action::Internal(Internal::Click(hit(&a, 40, 10))));
    assert_eq!(a.focus, Pane::Log);
}

/// The styles each theme gives the main screen, by role: a compact, reviewable record of what
/// every theme looks like (the text snapshots above record the layout).
fn style_summary(app: &mut App, theme: &Theme) -> String {
    style_summary_at(app, theme, 80, 24)
}

fn style_summary_at(app: &mut App, theme: &Theme, w: u16, h: u16) -> String {
    resize(app, w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| f.render_widget(Screen { app, theme }, f.area()))
        .expect("draw");
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut runs: Vec<String> = Vec::new();
        let mut last: Option<(
            ratatui::style::Color,
            ratatui::style::Color,
            ratatui::style::Modifier,
        )> = None;
        for x in 0..w {
            let c = &buf[(x, y)];
            let k = (c.fg, c.bg, c.modifier);
            if last != Some(k) {
                runs.push(format!("{x}:{:?}/{:?}/{:?}", c.fg, c.bg, c.modifier));
                last = Some(k);
            }
        }
        out.push_str(&format!("{y:2} {}\n", runs.join(" ")));
    }
    out
}

#[test]
fn snapshot_styles_in_each_theme() {
    let (rb, s) = walked();
    for name in ["dark", "light", "high-contrast"] {
        let theme = Theme::load(name).expect("theme");
        let mut a = app(rb.clone(), &s.entries);
        insta::assert_snapshot!(
            format!("styles_{name}_80x24"),
            style_summary(&mut a, &theme)
        );
    }
}

/// The light theme at the compact size, text and styles: body text left to the terminal
/// (`Reset`), colour only where it means something.
#[test]
fn snapshot_light_theme_80x23() {
    let (rb, s) = walked();
    let theme = Theme::load("light").expect("theme");
    let mut a = app(rb.clone(), &s.entries);
    a.selected = rb.step_index("env").expect("env");
    insta::assert_snapshot!("light_80x23_text", screen(&mut a, 80, 23, &theme));
    insta::assert_snapshot!(
        "light_80x23_styles",
        style_summary_at(&mut a, &theme, 80, 23)
    );
}
