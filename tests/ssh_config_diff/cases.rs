//! The table: each case is a config (plus any files it includes) and the alias to resolve.
#![allow(clippy::expect_used)] // a test states its expectations

pub struct Case {
    pub name: &'static str,
    pub config: &'static str,
    pub alias: &'static str,
    /// Files under the home, for `Include`.
    pub files: &'static [(&'static str, &'static str)],
}

const fn case(name: &'static str, config: &'static str, alias: &'static str) -> Case {
    Case {
        name,
        config,
        alias,
        files: &[],
    }
}

const PATTERNS: &str = "Host web-* !web-legacy\n  User deploy\n  Port 2222\nHost web-legacy\n  User legacy\nHost db?\n  HostName %h.internal.example\nHost *\n  User fallback\n";

pub const FIELDS: &[Case] = &[
    case("empty config", "", "plain.example"),
    case(
        "alias with HostName, User, Port",
        "Host web\n  HostName 10.1.2.3\n  User deploy\n  Port 2200\n",
        "web",
    ),
    case("wildcard with negation, matched", PATTERNS, "web-1"),
    case("wildcard with negation, negated", PATTERNS, "web-legacy"),
    case("question mark and %h in HostName", PATTERNS, "db1"),
    case("question mark does not match two", PATTERNS, "db12"),
    case(
        "a lone negation matches nothing",
        "Host !foo\n  User x\n",
        "bar",
    ),
    case(
        "first value wins across blocks",
        "User top\nHost h\n  User h-user\n  Port 1022\nHost *\n  Port 2022\n",
        "h",
    ),
    case("Host is case-sensitive", "Host Web\n  User cased\n", "WEB"),
    case("Host as typed", "Host Web\n  User cased\n", "Web"),
    case(
        "HostName is lowercased",
        "Host x\n  HostName DB.Example.COM\n",
        "x",
    ),
    case(
        "Match host sees HostName above it",
        "Host short\n  HostName short.prod.example\nMatch host *.prod.example\n  User prod\n",
        "short",
    ),
    case(
        "Match originalhost folds case",
        "Match originalhost web\n  Port 7\n",
        "WeB",
    ),
    case(
        "Match host list with negation",
        "Match host \"*.example,!bad.example\"\n  User listed\n",
        "bad.example",
    ),
    case(
        "Match user after User",
        "Host h\n  User deploy\nMatch user deploy\n  Port 2001\n",
        "h",
    ),
    case(
        "Match user defaults to the local user",
        "Match user rh-alice\n  Port 2002\n",
        "h",
    ),
    case(
        "Match localuser",
        "Match localuser rh-alice\n  User via-localuser\n",
        "h",
    ),
    case(
        "Match !localuser",
        "Match !localuser rh-alice\n  User not-me\nMatch all\n  Port 2003\n",
        "h",
    ),
    case(
        "Match exec that fails",
        "Match exec false\n  User exec\n",
        "h",
    ),
    Case {
        name: "Include relative glob, lexical order",
        config: "Include conf.d/*.conf\nHost *\n  User default\n",
        alias: "b",
        files: &[
            (".ssh/conf.d/20-b.conf", "Host b\n  User from-b\n"),
            (
                ".ssh/conf.d/10-a.conf",
                "Host a b\n  User from-a\n  Port 1000\n",
            ),
            (".ssh/conf.d/.hidden.conf", "Host *\n  User hidden\n"),
            (".ssh/conf.d/skip.txt", "Host *\n  User txt\n"),
        ],
    },
    Case {
        name: "Include absolute and tilde, missing ignored",
        config: "Include ~/extra/inc {home}/abs.conf /nonexistent/*.conf\n",
        alias: "x",
        files: &[("extra/inc", "Port 2345\n"), ("abs.conf", "User abs\n")],
    },
    Case {
        name: "Include inside a Host block is conditional",
        config: "Host prod-*\n  Include prod\n  IdentitiesOnly yes\nHost *\n  User generic\n",
        alias: "dev-1",
        files: &[(".ssh/prod", "User prod-user\nHost *\n  Port 2200\n")],
    },
    Case {
        name: "Include inside a matching Host block",
        config: "Host prod-*\n  Include prod\n  IdentitiesOnly yes\nHost *\n  User generic\n",
        alias: "prod-1",
        files: &[(".ssh/prod", "User prod-user\nHost *\n  Port 2200\n")],
    },
    case(
        "IdentityFile accumulates with tokens",
        "Host web\n  HostName Web.Example\n  User deploy\n  Port 2200\n  IdentityFile ~/.ssh/id_%r_%h_%p\n  IdentityFile %d/k_%u_%n_%%\nHost *\n  IdentityFile ~/.ssh/id_%r_%h_%p\n  IdentityFile ~/.ssh/shared\n",
        "web",
    ),
    case(
        "UserKnownHostsFile list with tokens",
        "Host k\n  HostName K.example\n  UserKnownHostsFile ~/kh_%h_%p %d/kh2_%u ~/.ssh/kh3\n",
        "k",
    ),
    case("UserKnownHostsFile none", "UserKnownHostsFile none\n", "k"),
    case(
        "StrictHostKeyChecking yes, options with =",
        "Host=s\n  StrictHostKeyChecking=yes\n  Port = 2022\n  IdentitiesOnly yes\n",
        "s",
    ),
    case(
        "StrictHostKeyChecking accept-new",
        "StrictHostKeyChecking accept-new\n",
        "s",
    ),
    case(
        "StrictHostKeyChecking off",
        "StrictHostKeyChecking off\n",
        "s",
    ),
    case(
        "timeouts and keepalives",
        "ConnectTimeout 1m30s\nServerAliveInterval 45\nServerAliveCountMax 5\n",
        "t",
    ),
    case(
        "IdentityAgent path with tokens",
        "Host a\n  IdentityAgent ~/agent_%h.sock\n",
        "a",
    ),
    case("IdentityAgent none", "IdentityAgent none\n", "a"),
    case(
        "ProxyJump list, first value wins",
        "Host t\n  ProxyJump u@j1:2201,ssh://j2\nHost *\n  ProxyJump later\n",
        "t",
    ),
    case(
        "ProxyJump none beats a later default",
        "Host t\n  ProxyJump none\nHost *\n  ProxyJump later\n",
        "t",
    ),
    case(
        "quoted values and comments",
        "# comment\nHost q\n  User \"quoted\" # trailing\n  IdentityFile \"~/.ssh/with space\"\n",
        "q",
    ),
];

/// Jump hosts all live on 127.0.0.1 at ports nothing listens on (reserved low ports), so
/// OpenSSH's innermost hop fails at once; targets are never resolved (ssh hands them to -W).
pub const CHAINS: &[Case] = &[
    case(
        "one jump",
        "Host t\n  HostName target.invalid\n  ProxyJump j1\nHost j1\n  HostName 127.0.0.1\n  Port 1\n",
        "t",
    ),
    case(
        "a jump host's own ProxyJump is followed",
        "Host t\n  HostName target.invalid\n  ProxyJump j2\nHost j2\n  HostName 127.0.0.1\n  Port 2\n  User two\n  ProxyJump j1\nHost j1\n  HostName 127.0.0.1\n  Port 3\n",
        "t",
    ),
    case(
        "three levels, users and ports from the list win",
        "Host t\n  HostName target.invalid\n  ProxyJump ops@j3:4\nHost j3\n  HostName 127.0.0.1\n  User ignored\n  ProxyJump j2\nHost j2\n  HostName 127.0.0.1\n  Port 5\n  ProxyJump root2@j1\nHost j1\n  HostName 127.0.0.1\n  Port 6\n",
        "t",
    ),
    case(
        "a listed chain overrides the last hop's own ProxyJump",
        "Host t\n  HostName target.invalid\n  ProxyJump u@j1:7,j2\nHost j2\n  HostName 127.0.0.1\n  Port 8\n  ProxyJump j9\nHost j1\n  HostName 127.0.0.1\nHost j9\n  HostName 127.0.0.1\n  Port 9\n",
        "t",
    ),
    case(
        "the first hop of a list follows its own ProxyJump",
        "Host t\n  HostName target.invalid\n  ProxyJump j1,j2\nHost j1\n  HostName 127.0.0.1\n  Port 10\n  ProxyJump j0\nHost j0\n  HostName 127.0.0.1\n  Port 11\nHost j2\n  HostName 127.0.0.1\n  Port 12\n",
        "t",
    ),
    case(
        "ProxyJump none on the jump host stops the chain",
        "Host t\n  HostName target.invalid\n  ProxyJump j1\nHost j1\n  HostName 127.0.0.1\n  Port 13\n  ProxyJump none\nHost *\n  ProxyJump never\n",
        "t",
    ),
];
