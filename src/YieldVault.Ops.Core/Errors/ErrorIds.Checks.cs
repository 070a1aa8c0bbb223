namespace YieldVault.Ops;

/// <summary>Error ids: Probes and dependencies, smoke tests, notifications, records and the drill (the ids and their rules: ErrorIds.cs).</summary>
public static partial class ErrorIds
{
    // Probes and dependencies: health, version and log of the backend; its database and Stellar RPC (results' ErrorId).

    /// <summary>The backend did not answer its health endpoint at all.</summary>
    public const string BackendUnreachable = nameof(BackendUnreachable);

    /// <summary>The backend was not healthy (and ready) within the health timeout.</summary>
    public const string HealthCheckTimeout = nameof(HealthCheckTimeout);

    /// <summary>While its health was awaited, the backend's process exited and its manager will not start it again (PM2 errored, systemd failed, an exited container).</summary>
    public const string BackendExited = nameof(BackendExited);

    /// <summary>Neither the version endpoint nor git in AppPath tells the backend's version.</summary>
    public const string VersionUnknown = nameof(VersionUnknown);

    /// <summary>The log file at LogPath does not exist.</summary>
    public const string LogNotFound = nameof(LogNotFound);

    /// <summary>The log file at LogPath could not be read.</summary>
    public const string LogUnreadable = nameof(LogUnreadable);

    /// <summary>A dependency's variable (DATABASE_URL, STELLAR_RPC_URL) is not set in the env file.</summary>
    public const string DependencyConfigMissing = nameof(DependencyConfigMissing);

    /// <summary>A dependency's variable is not a URL of the right kind (postgres://, http(s)://).</summary>
    public const string DependencyConfigInvalid = nameof(DependencyConfigInvalid);

    /// <summary>The dependency refused or closed the connection.</summary>
    public const string DependencyRefused = nameof(DependencyRefused);

    /// <summary>The dependency's host name could not be resolved (here, or on the server).</summary>
    public const string DependencyDnsFailed = nameof(DependencyDnsFailed);

    /// <summary>The dependency did not answer (or the connection did not open) within the timeout.</summary>
    public const string DependencyTimeout = nameof(DependencyTimeout);

    /// <summary>PostgreSQL refused the login (password or pg_hba.conf).</summary>
    public const string DependencyAuthFailed = nameof(DependencyAuthFailed);

    /// <summary>The dependency answered with an error (an HTTP or SQL error, no such database, no JSON-RPC) or the connection failed otherwise.</summary>
    public const string DependencyFailed = nameof(DependencyFailed);

    /// <summary>The Stellar RPC answered that it is not healthy.</summary>
    public const string DependencyUnhealthy = nameof(DependencyUnhealthy);

    /// <summary>The PostgreSQL check needs YieldVault.Ops.Postgres.dll (Npgsql), which runs on PowerShell 7.4 or later.</summary>
    public const string DatabaseProbeUnavailable = nameof(DatabaseProbeUnavailable);

    // Smoke: the runbook's smoke tests.

    /// <summary>Test-VaultSmoke's -BaseUrl is not a usable public address.</summary>
    public const string BaseUrlInvalid = nameof(BaseUrlInvalid);

    /// <summary>Test-VaultSmoke -IncludeWrite or -ApiKey with a plain http -BaseUrl that is not loopback: the admin key would cross the network in clear text; nothing was sent.</summary>
    public const string BaseUrlNotSecure = nameof(BaseUrlNotSecure);

    /// <summary>A smoke check failed after the new version started (the deployment rolls back).</summary>
    public const string SmokeTestFailed = nameof(SmokeTestFailed);

    // Notifications: the Slack webhook.

    /// <summary>No webhook URL: no -WebhookUrl and no $env:YIELDVAULT_SLACK_WEBHOOK_URL; nothing was sent.</summary>
    public const string WebhookUrlMissing = nameof(WebhookUrlMissing);

    /// <summary>The webhook URL is not an https:// URL with a path (the value is never shown); nothing was sent.</summary>
    public const string InvalidWebhookUrl = nameof(InvalidWebhookUrl);

    /// <summary>The webhook did not take the message after its retries (an error with -FailOnError; otherwise a warning).</summary>
    public const string NotificationFailed = nameof(NotificationFailed);

    // Records and drill: deployment history, reports, and the quarterly runbook drill.

    /// <summary>The deployment history (history.jsonl) could not be read.</summary>
    public const string DeploymentHistoryUnreadable = nameof(DeploymentHistoryUnreadable);

    /// <summary>ConvertTo-VaultRunbookReport was given something other than a deployment, rollback or drill result.</summary>
    public const string ReportInputInvalid = nameof(ReportInputInvalid);

    /// <summary>The run was stopped by the user (Ctrl+C): the error id recorded in the deployment history.</summary>
    public const string Cancelled = nameof(Cancelled);

    /// <summary>The drill was pointed at a production target without -AllowProduction.</summary>
    public const string DrillOnProduction = nameof(DrillOnProduction);

    /// <summary>The drill's target was not healthy before the drill, so the drill changed nothing.</summary>
    public const string DrillTargetUnhealthy = nameof(DrillTargetUnhealthy);

    /// <summary>The runbook drill ran and did not pass.</summary>
    public const string DrillFailed = nameof(DrillFailed);
}
