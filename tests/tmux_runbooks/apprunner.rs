//! App Runner staging, every command local (the AWS and GitHub CLIs): preflight, the optional
//! RDS step waived (an existing database), secrets, IAM, the service from its config template,
//! the workflow and its secrets, a pipeline run, the rollback by moving the `staging` tag to
//! the previous image and forward again, a sign-off and the monitoring window.

use crate::shortened;
use crate::walk::{Walk, git, write_files};

const SERVICE_CONFIG: &str = r#"{
  "ServiceName": "app-staging",
  "SourceConfiguration": {
    "ImageRepository": {"ImageIdentifier": "<ECR_REPO_URI>:staging", "ImageRepositoryType": "ECR"},
    "AuthenticationConfiguration": {"AccessRoleArn": "<ECR_ACCESS_ROLE_ARN>"},
    "AutoDeploymentsEnabled": true
  },
  "InstanceConfiguration": {"Cpu": "0.5 vCPU", "Memory": "1 GB", "InstanceRoleArn": "<STAGING_INSTANCE_ROLE_ARN>"},
  "HealthCheckConfiguration": {"Protocol": "HTTP", "Path": "/api/health"}
}
"#;

const SECRETS: &str = r#"{
  "ConnectionStrings__DefaultConnection": "Server=staging-db;Database=app_staging;User=app_staging",
  "JwtSettings__Secret": "staging-only-jwt-secret",
  "SendGrid__ApiKey": "SG.sandbox",
  "Twilio__AccountSid": "ACtest",
  "Twilio__AuthToken": "test-token"
}
"#;

const WORKFLOW: &str =
    "name: CD staging\non:\n  push:\n    branches:\n      - develop\n  workflow_dispatch:\n";

#[test]
fn apprunner_rolls_the_staging_tag_back_and_forward() {
    // Replaced: the gate's monitoring window, 1h probed every 5m -> 3s probed every 1s; the
    // 20 s pause after moving the tag and the 5 s before looking for the dispatched run -> 1 s.
    let text = shortened(
        "apprunner-staging.toml",
        &[
            ("duration = \"1h\"", "duration = \"3s\""),
            ("every = \"5m\"", "every = \"1s\""),
            ("sleep 20", "sleep 1"),
            ("  sleep 5\n", "  sleep 1\n"),
        ],
    );
    let mut w = Walk::start(
        "apprunner",
        &text,
        &[
            ("github_repo", "shop/app"),
            ("e2e_admin_email", "qa@shop.test"),
            ("custom_domain", "beta.shop.test"),
        ],
        &[("REHEARSE_E2E_ADMIN_PASSWORD", "walk-e2e-pw")],
    );
    // The app's repository: the workflow committed, the config template beside it, the
    // secrets file present but never committed. Production's AWS keys are already set on
    // the GitHub repository.
    write_files(
        &w.work,
        &[
            (".github/workflows/cd-staging.yml", WORKFLOW),
            ("aws-config/apprunner-staging.json", SERVICE_CONFIG),
        ],
    );
    git(&w.work, &["init", "-q"]);
    git(&w.work, &["add", "."]);
    git(&w.work, &["commit", "-qm", "the app"]);
    write_files(&w.work, &[("aws-config/secrets-staging.json", SECRETS)]);
    write_files(
        &w.root,
        &[("gh-secrets", "AWS_ACCESS_KEY_ID\nAWS_SECRET_ACCESS_KEY\n")],
    );

    w.step("preflight", &[]);
    // The database choice: an existing instance; the RDS step shows as skipped.
    w.choose("database", 1, "staging shares the existing instance");
    assert!(!w.journal().contains(r#""step":"rds""#), "rds is skipped");
    w.goto("existing-db");
    w.tick("existing-db", &["created", "user"]);
    w.step("secrets", &[]);
    w.tick("secrets", &["sandbox"]);
    w.step("iam", &[]);
    w.step("service", &[]);
    w.tick("service", &["staging-data"]);
    w.step("workflow", &[]);
    w.step("deploy", &[]);
    w.tick("deploy", &["migrations"]);
    let tag_file = w.root.join("aws/staging-tag");
    let tag = || std::fs::read_to_string(&tag_file).expect("tag");
    assert!(tag().contains("sha256:4242"), "{}", tag());
    // The images before and after the deploy are captured: the rollback and forward use them.
    let j = w.journal();
    assert!(
        j.contains(r#""name":"before_image","value":"sha256:4141"#)
            && j.contains(r#""name":"release_image","value":"sha256:4242"#),
        "{j}"
    );
    w.step("rollback", &[]);
    w.tick("rollback", &["schema-compatible"]);
    assert!(tag().contains("sha256:4141"), "rolled back: {}", tag());
    w.step("forward", &[]);
    assert!(tag().contains("sha256:4242"), "forward: {}", tag());
    let out = w.output("rollback", "retag-previous");
    assert!(out.contains("rolled back to sha256:4141"), "{out}");
    w.sign("forward", "staging-41 served, then staging-42 again");

    w.open_the_gate_and_verify();
}
