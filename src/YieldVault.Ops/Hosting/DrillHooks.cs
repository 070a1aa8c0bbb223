using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Hosting;

/// <summary>What the drill borrows from the other parts of the module (smoke checks, records).</summary>
internal static class DrillHooks
{
    public static Func<VaultTarget, CancellationToken, Task<IReadOnlyList<VaultCheckOutcome>>>? Smoke(SecretRedactor redactor)
    {
        _ = redactor;
        return null;
    }

    public static Func<VaultDrillResult, CancellationToken, Task<bool>>? Record(IHostShell shell, SecretRedactor redactor)
    {
        _ = shell;
        _ = redactor;
        return null;
    }
}
