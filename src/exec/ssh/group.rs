//! Stopping a remote command: its process group, learned from a marker line, signalled over a
//! second channel.

use bytes::Bytes;

use super::trust::Checker;
use super::*;

/// Why stopping needs more than SSH's `signal` request: OpenSSH refuses it for root logins
/// ("session signalling requires privilege separation") and older servers ignore it, both
/// silently. So each command first prints its process group id behind a random tag (sshd puts
/// every session in its own group, `$$` being the leader), and INT, TERM and KILL go to the
/// whole group with `kill` over a second channel. The `signal` request is the fallback for
/// shells that cannot run the marker (probed once per connection) and before the id arrives.
pub(super) const GROUP_TAG: &str = "\x1erehearse-pgid ";

/// The shell line printing the marker (`\036` is the tag's first byte, 0x1e).
pub(super) fn marker_command(nonce: &str) -> String {
    format!("printf '\\036rehearse-pgid {nonce} %s\\n' \"$$\"")
}

/// Does this connection's login shell run the marker? One that cannot (fish has no `$$`) would
/// fail every prefixed command, so commands are only prefixed when this says yes. One round
/// trip per connection.
pub(super) async fn probe_group_marker(handle: &Handle<Checker>) -> bool {
    let probe = async {
        let mut ch = handle.channel_open_session().await.ok()?;
        ch.exec(true, marker_command("probe")).await.ok()?;
        let mut filter = GroupMarker::new("probe");
        let mut status = None;
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    filter.push(data);
                }
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        Some(status == Some(0) && filter.group.is_some())
    };
    tokio::time::timeout(Duration::from_secs(10), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Takes the marker line out of a command's stdout and keeps the group id it names. Bytes that
/// might be the start of the marker are held back until they prove otherwise.
pub(super) struct GroupMarker {
    pub(super) tag: Vec<u8>,
    pub(super) held: Vec<u8>,
    pub(super) done: bool,
    pub(super) group: Option<u32>,
}

impl GroupMarker {
    pub(super) fn new(nonce: &str) -> GroupMarker {
        GroupMarker {
            tag: format!("{GROUP_TAG}{nonce} ").into_bytes(),
            held: Vec::new(),
            done: false,
            group: None,
        }
    }

    /// A filter that has nothing to find (the command was not prefixed).
    pub(super) fn off() -> GroupMarker {
        GroupMarker {
            tag: Vec::new(),
            held: Vec::new(),
            done: true,
            group: None,
        }
    }

    /// The bytes of `data` that belong to the command's output. Once the marker is found (or
    /// was never looked for) every chunk passes as it came, without a copy.
    pub(super) fn push(&mut self, data: Bytes) -> Bytes {
        if self.done {
            return data;
        }
        self.find_in(&data).into()
    }

    fn find_in(&mut self, data: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(data);
        if let Some(at) = find(&self.held, &self.tag) {
            let rest = &self.held[at + self.tag.len()..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > 24 {
                    return self.give_up();
                }
                let out = self.held[..at].to_vec();
                self.held.drain(..at);
                return out;
            };
            let digits = String::from_utf8_lossy(&rest[..nl]);
            // A PTY turns the newline into CR LF.
            self.group = digits
                .trim_end_matches('\r')
                .parse::<u32>()
                .ok()
                .filter(|&g| g > 1);
            let mut out = self.held[..at].to_vec();
            out.extend_from_slice(&rest[nl + 1..]);
            self.held.clear();
            self.done = true;
            return out;
        }
        // Keep the longest tail that could still become the tag.
        let keep = (1..self.tag.len().min(self.held.len() + 1))
            .rev()
            .find(|&n| self.held.ends_with(&self.tag[..n]))
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_vec();
        self.held.drain(..cut);
        out
    }

    pub(super) fn give_up(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.held)
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Send `sig` to the command: to its process group over a second channel when its id is known,
/// else with the channel's `signal` request. Never waits for `kill`: its reply could sit behind
/// output of this command that has not been read yet.
pub(super) async fn send_signal(
    conn: &Arc<Connection>,
    channel: &russh::Channel<client::Msg>,
    group: Option<u32>,
    sig: Sig,
) {
    let Some(g) = group else {
        let _ = channel.signal(sig).await;
        return;
    };
    let name = sig_name(&sig);
    let conn = conn.clone();
    tokio::spawn(async move {
        if let Ok(mut ch) = conn.handle.channel_open_session().await
            && ch
                .exec(false, format!("kill -s {name} -- -{g}"))
                .await
                .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while ch.wait().await.is_some() {}
            })
            .await;
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    pub(super) fn feed(m: &mut GroupMarker, chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend(m.push(Bytes::copy_from_slice(c)));
        }
        out.extend(m.give_up());
        out
    }

    #[test]
    pub(super) fn marker_is_removed_whole_or_split() {
        let line = b"\x1erehearse-pgid n1 4242\nhello\n";
        for split in 0..line.len() {
            let mut m = GroupMarker::new("n1");
            let out = feed(&mut m, &[&line[..split], &line[split..]]);
            assert_eq!(out, b"hello\n", "split at {split}");
            assert_eq!(m.group, Some(4242));
        }
    }

    #[test]
    pub(super) fn marker_after_rc_noise_and_with_crlf() {
        let mut m = GroupMarker::new("n2");
        let out = feed(&mut m, &[b"motd\n\x1erehearse-pgid n2 77\r\nout"]);
        assert_eq!(out, b"motd\nout");
        assert_eq!(m.group, Some(77));
    }

    #[test]
    pub(super) fn output_without_marker_passes_untouched() {
        let mut m = GroupMarker::new("n3");
        let out = feed(&mut m, &[b"\x1erehearse", b"-pgid other 5\n", b"tail"]);
        assert_eq!(out, b"\x1erehearse-pgid other 5\ntail");
        assert_eq!(m.group, None);
        let mut off = GroupMarker::off();
        assert_eq!(
            feed(&mut off, &[b"\x1erehearse-pgid  1\n"]),
            b"\x1erehearse-pgid  1\n"
        );
    }

    #[test]
    pub(super) fn groups_zero_and_one_are_never_signalled() {
        // `kill -- -1` would reach every process the user may signal.
        for g in ["0", "1", "x"] {
            let mut m = GroupMarker::new("n4");
            let out = feed(
                &mut m,
                &[format!("\x1erehearse-pgid n4 {g}\nrest").as_bytes()],
            );
            assert_eq!(out, b"rest");
            assert_eq!(m.group, None);
        }
    }
}
