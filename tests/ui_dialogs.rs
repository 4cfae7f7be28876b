//! Every dialog at the smallest size the app supports (60×20), and the light theme, as insta
//! snapshots: nothing a dialog asks about may be cut off where an operator can't see it.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rehearse::action::{Action, Internal};
use rehearse::app::dialog::{masked, text_area};
use rehearse::app::{App, Dialog};
use rehearse::journal::{Event, Journal};
use rehearse::keymap::Keymap;
use rehearse::runbook;
use rehearse::theme::Theme;
use rehearse::ui::Screen;

fn app() -> (tempfile::TempDir, App) {
    let rb = Arc::new(runbook::load(Path::new("runbooks/demo-staging.toml")).expect("demo"));
    let dir = tempfile::tempdir().expect("tmp");
    let (_, first) = Journal::create(
        dir.path(),
        Event::Note {
            step: "preflight".into(),
            text: "begin".into(),
            operator: "ana".into(),
        },
        &[],
    )
    .expect("journal");
    let (vars, _) = rb
        .resolve_vars(&[("db_password".into(), "s3cret-value".into())])
        .expect("vars");
    let a = App::new(rb, &[first.entry], vars, "ana".into(), Keymap::default());
    (dir, a)
}

fn screen(a: &mut App, w: u16, h: u16, theme: &Theme) -> String {
    let log = rehearse::ui::log_inside(a, (w, h));
    a.update(Action::Internal(Internal::Resize { size: (w, h), log }));
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| f.render_widget(Screen { app: a, theme }, f.area()))
        .expect("draw");
    t.backend().to_string()
}

/// 300 characters of command whose dangerous part is at the end.
fn long_command() -> String {
    let mut c = String::from("cd /srv/shop/releases");
    let mut i = 0;
    while c.len() < 270 {
        c.push_str(&format!(" && echo step-{i:02}"));
        i += 1;
    }
    c + " && rm -rf /srv/shop/releases/old-END"
}

fn dialogs() -> Vec<(&'static str, Dialog)> {
    vec![
        (
            "confirm",
            Dialog::Confirm {
                step: "rollback".into(),
                index: 1,
                command: "roll-back".into(),
                run: long_command(),
                target: "staging (deploy@127.0.0.1:2222)".into(),
                host_key: "ssh-ed25519 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU (pinned)"
                    .into(),
                destructive: false,
                typed: text_area("type rollback to run it"),
                scroll: 0,
                error: None,
            },
        ),
        (
            "confirm-destructive",
            Dialog::Confirm {
                step: "rollback".into(),
                index: 1,
                command: "roll-back".into(),
                run: "ln -sfn releases/1 current.tmp && mv -T current.tmp current".into(),
                target: "staging (deploy@127.0.0.1:2222)".into(),
                host_key: "ssh-ed25519 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU (pinned)"
                    .into(),
                destructive: true,
                typed: text_area("type rollback to run it"),
                scroll: 0,
                error: Some("type `rollback` exactly to run it".into()),
            },
        ),
        (
            "sign-off-unsigned",
            Dialog::SignOff {
                step: "preflight".into(),
                note: text_area("what you checked, anything odd"),
                signer: None,
            },
        ),
        (
            "waive",
            Dialog::Waive {
                step: "dns-tls".into(),
                item: Some("tls".into()),
                reason: text_area("why this is safe to skip"),
                error: Some("a waiver needs a reason".into()),
            },
        ),
        (
            "host-key",
            Dialog::HostKey {
                id: 1,
                q: rehearse::exec::HostKeyQuestion {
                    target: "staging".into(),
                    host: "127.0.0.1".into(),
                    port: 2222,
                    algorithm: "ssh-ed25519".into(),
                    fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU".into(),
                    known_hosts: Some("/home/ana/.ssh/known_hosts".into()),
                },
                choice: 0,
            },
        ),
        (
            "secret",
            Dialog::Secret {
                id: 2,
                prompt: "Passphrase for /home/ana/.ssh/id_ed25519".into(),
                input: masked(""),
            },
        ),
        (
            "propose-tick",
            Dialog::ProposeTick {
                step: "preflight".into(),
                item: "tools".into(),
                text: "Required tools are present on the host".into(),
                by: "tools".into(),
            },
        ),
        ("quit", Dialog::Quit),
        (
            "alert",
            Dialog::Alert {
                title: "JOURNAL WRITE FAILED".into(),
                text: "journal.jsonl: No space left on device (os error 28)\n\nWhat failed is not recorded.".into(),
            },
        ),
        (
            "choice",
            Dialog::Choice {
                step: "launch-path".into(),
                options: vec![
                    ("a".into(), "Path A".into(), "Ship behind a flag to 5% of traffic".into()),
                    ("b".into(), "Path B".into(), "Ship to staging only, hold production".into()),
                    ("c".into(), "Path C".into(), "Do not ship: roll back and regroup".into()),
                ],
                selected: 2,
                reason: text_area("why this path"),
                error: None,
            },
        ),
        (
            "rerun",
            Dialog::Rerun {
                step: "preflight".into(),
                commands: vec!["tools".into(), "disk".into()],
                selected: 1,
                reason: text_area("why run it again"),
                error: None,
            },
        ),
    ]
}

#[test]
fn every_dialog_at_60x20() {
    let theme = Theme::load("dark").expect("theme");
    for (name, d) in dialogs() {
        let (_dir, mut a) = app();
        a.dialog = Some(d);
        let s = screen(&mut a, 60, 20, &theme);
        insta::assert_snapshot!(format!("dialog_{name}_60x20"), s);
    }
}

#[test]
fn the_long_confirm_shows_its_end_at_60x20_once_scrolled() {
    let theme = Theme::load("dark").expect("theme");
    let (_dir, mut a) = app();
    a.dialog = dialogs()
        .into_iter()
        .find(|(n, _)| *n == "confirm")
        .map(|x| x.1);
    let flat = |s: &str| s.replace(['║', '│', ' ', '\n', '"'], "");
    let mut seen = flat(&screen(&mut a, 60, 20, &theme));
    // Scroll down row by row: every part of the command is shown at some point.
    for _ in 0..20 {
        a.on_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Down,
            crossterm::event::KeyModifiers::NONE,
        ));
        seen.push_str(&flat(&screen(&mut a, 60, 20, &theme)));
    }
    assert!(seen.contains("old-END"), "{seen}");
    for i in 0..10 {
        assert!(seen.contains(&format!("step-{i:02}")), "step-{i:02}");
    }
}

#[test]
fn the_main_screen_in_the_light_theme_at_60x20() {
    let theme = Theme::load("light").expect("theme");
    let (_dir, mut a) = app();
    insta::assert_snapshot!(screen(&mut a, 60, 20, &theme));
}

/// After a failed probe the gate pane says why the gate is shut and what reopens it.
#[test]
fn a_failed_window_says_what_reopens_the_gate() {
    let theme = Theme::load("dark").expect("theme");
    let (dir, mut a) = app();
    let (mut j, _, _) = Journal::open(dir.path()).expect("journal");
    let probe = j
        .append(Event::Probe {
            passed: false,
            exit_status: Some(1),
            duration_ms: 3,
            output_sha256: "0".repeat(64),
            reason: Some("exit 1, expected exit 0".into()),
            step: None,
            abort: None,
        })
        .expect("append");
    a.update(Action::Internal(Internal::Runner(
        rehearse::runner::RunnerEvent::Recorded(Box::new(probe.entry)),
    )));
    let s = screen(&mut a, 160, 48, &theme);
    assert!(s.contains("window failed: fix the cause"), "{s}");
    assert!(s.contains("rehearse ack RUN_DIR"), "{s}");
}
