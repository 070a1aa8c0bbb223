namespace YieldVault.Ops;

/// <summary>What sits in front of the backend's port.</summary>
public enum ProxyKind
{
    /// <summary>Nothing: clients reach the backend's port; deployments are in place.</summary>
    None,

    /// <summary>nginx, whose upstream YieldVault.Ops writes: deployments are blue-green by default.</summary>
    Nginx,
}

/// <summary>How nginx is told to read its configuration again.</summary>
public enum ProxyReload
{
    /// <summary>nginx [-c NginxConfig] -s reload (the master re-reads its configuration; old workers finish their requests).</summary>
    Signal,

    /// <summary>systemctl reload nginx.</summary>
    Systemctl,
}

/// <summary>One of the two places a blue-green target runs a version: the blue port or the green port.</summary>
public enum TrafficSlot
{
    Blue,
    Green,
}

/// <summary>How Invoke-VaultDeployment puts the new version in place.</summary>
public enum DeploymentStrategyKind
{
    /// <summary>The target's default: BlueGreen when it has a proxy, else InPlace.</summary>
    Default,

    /// <summary>Stop the old version, switch, start the new one (the runbook's way, with a short downtime).</summary>
    InPlace,

    /// <summary>Start the new version next to the old one, verify it, then switch nginx to it.</summary>
    BlueGreen,
}
