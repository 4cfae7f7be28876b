//! `ProxyJump` chains, built the way OpenSSH builds them.
//!
//! For `ProxyJump j1,j2` ssh runs `ssh -J j1 j2` as its proxy: the last host is reached
//! directly, the ones before it by a jump list given on the command line, which beats j2's
//! own `ProxyJump`. For `ProxyJump j2` alone ssh runs `ssh j2`, so j2's own `ProxyJump`
//! applies, and so on down. A hop's user and port as written in the list beat its config.

use super::{HostConfig, JumpHost, SshConfig, SshConfigError};

/// OpenSSH spawns one ssh per hop with no limit; a chain this long is a mistake.
pub const MAX_JUMPS: usize = 16;

/// One jump host on the way to a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// As written in `ProxyJump`: the name looked up in the config, and the user and port
    /// given there, if any.
    pub jump: JumpHost,
    /// The hop's own settings (its `HostName`, `User`, `Port`, keys, known_hosts...).
    pub config: HostConfig,
}

impl SshConfig {
    /// The jump hosts between here and `alias`, the one connected to directly first. Empty
    /// without `ProxyJump` (or with `ProxyJump none`).
    pub fn jump_chain(&self, alias: &str) -> Result<Vec<Hop>, SshConfigError> {
        let list = self.resolve(alias).proxy_jump.unwrap_or_default();
        let mut walk = ChainWalk {
            config: self,
            alias,
            chain: Vec::new(),
            stack: Vec::new(),
        };
        walk.route(&list)?;
        Ok(walk.chain)
    }
}

struct ChainWalk<'a> {
    config: &'a SshConfig,
    alias: &'a str,
    /// Nearest hop first.
    chain: Vec<Hop>,
    /// What each ssh in the recursion was asked to reach, and with which `-J` list: seeing
    /// one again means the configs send ssh round in a circle.
    stack: Vec<(JumpHost, Vec<JumpHost>)>,
}

impl ChainWalk<'_> {
    fn route(&mut self, list: &[JumpHost]) -> Result<(), SshConfigError> {
        let Some((last, before)) = list.split_last() else {
            return Ok(());
        };
        let config = self.config.resolve(&last.host);
        let via = if before.is_empty() {
            config.proxy_jump.clone().unwrap_or_default()
        } else {
            before.to_vec()
        };
        let state = (last.clone(), before.to_vec());
        let looped = self.stack.contains(&state);
        self.stack.push(state);
        if looped || self.stack.len() > MAX_JUMPS {
            let path: Vec<&str> = self.stack.iter().map(|(j, _)| j.host.as_str()).collect();
            return Err(SshConfigError::ProxyJump {
                alias: self.alias.to_string(),
                message: if looped {
                    format!("the jump hosts loop: {}", path.join(" <- "))
                } else {
                    format!("more than {MAX_JUMPS} jump hosts: {}", path.join(" <- "))
                },
            });
        }
        self.route(&via)?;
        self.stack.pop();
        self.chain.push(Hop {
            jump: last.clone(),
            config,
        });
        Ok(())
    }
}
