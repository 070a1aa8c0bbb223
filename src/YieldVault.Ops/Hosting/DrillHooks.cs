using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Hosting;

/// <summary>What the drill borrows from the other parts of the module (smoke checks, records).</summary>
internal static class DrillHooks
{
    public static Func<VaultTarget, CancellationToken, Task<IReadOnlyList<VaultCheckOutcome>>>? Smoke(IHostShell shell, SecretRedactor redactor, System.Security.SecureString? apiKey)
    {
        _ = shell;
        _ = redactor;
        _ = apiKey;
        return null;
    }

    public static Func<VaultDrillResult, CancellationToken, Task<bool>>? Notify(SecretRedactor redactor, System.Security.SecureString? webhookUrl)
    {
        _ = redactor;
        _ = webhookUrl;
        return null;
    }

    public static Func<VaultDrillResult, CancellationToken, Task<bool>>? Record(IHostShell shell, SecretRedactor redactor)
    {
        _ = shell;
        _ = redactor;
        return null;
    }
}
