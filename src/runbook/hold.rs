//! A step's `hold`: how long it waits, how often it probes, and what aborts it. A hold without
//! an abort criterion would pass however its probes went, so one is required.

use std::time::Duration;

use super::raw::{RawCommand, RawHold, S};
use super::validate::{Ctx, command};
use super::{AbortIf, Hold};

pub(super) fn hold(
    cx: &mut Ctx<'_>,
    h: &RawHold,
    default_target: Option<&str>,
    default_timeout: Duration,
) -> Option<Hold> {
    let duration = cx.duration(&h.duration);
    let every = cx.duration(&h.every);
    let p = &h.probe;
    let raw = RawCommand {
        name: S::new(p.run.span(), "probe".to_string()),
        run: p.run.clone(),
        target: p.target.clone(),
        timeout: p.timeout.clone(),
        confirm: false,
        destructive: false,
        pty: false,
        expect: p.expect.clone(),
        proves: None,
        when: None,
        capture: None,
        retries: 0,
        retry_delay: None,
        until: None,
        env: p.env.clone(),
        cwd: p.cwd.clone(),
        stdin: None,
    };
    let probe = command(cx, &raw, default_target, default_timeout);
    let abort = match &h.abort_if {
        None => {
            cx.error(
                h.duration.span(),
                "a hold needs `abort_if` (`failed`, `in_a_row` or `stdout`): without one it \
                 passes however its probes go",
            );
            None
        }
        Some(a) => {
            let positive = |cx: &mut Ctx<'_>, n: &Option<S<u32>>| match n {
                Some(v) if *v.get_ref() == 0 => {
                    cx.error(v.span(), "expected a count above zero");
                    0
                }
                Some(v) => *v.get_ref(),
                None => 0,
            };
            let abort = AbortIf {
                failed: positive(cx, &a.failed),
                in_a_row: positive(cx, &a.in_a_row),
                stdout: a.stdout.as_ref().and_then(|re| cx.regex(re)),
            };
            if a.failed.is_none() && a.in_a_row.is_none() && a.stdout.is_none() {
                cx.error(
                    h.duration.span(),
                    "`abort_if` names no criterion: give `failed`, `in_a_row` or `stdout`",
                );
            }
            Some(abort)
        }
    };
    match (duration, every, abort) {
        (Some(d), Some(e), _) if e > d => {
            cx.error(h.every.span(), "`every` is longer than the hold's `for`");
            None
        }
        (Some(duration), Some(every), Some(abort)) => Some(Hold {
            duration,
            every,
            probe,
            abort,
        }),
        _ => None,
    }
}
