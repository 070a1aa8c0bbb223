namespace YieldVault.Ops;

/// <summary>How the backend process is supervised on a target (runbook 1.1).</summary>
public enum ServiceManagerKind
{
    Systemd,
    Pm2,
    Docker,
}

/// <summary>How commands reach the target's host.</summary>
public enum TransportKind
{
    Local,
    Ssh,
}
