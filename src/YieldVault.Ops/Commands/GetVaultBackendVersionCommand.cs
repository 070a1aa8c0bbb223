using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>The version and commit a backend runs: /api/v1/version, else git in the app directory.</summary>
[Cmdlet(VerbsCommon.Get, "VaultBackendVersion")]
[OutputType(typeof(VaultBackendVersion))]
public sealed class GetVaultBackendVersionCommand : VaultTargetCmdlet
{
    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 10;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var version = await VersionProbe.GetAsync(target, shell, TimeSpan.FromSeconds(TimeoutSec), cancellationToken).ConfigureAwait(false);
        if (version.Version is null && version.Commit is null)
        {
            throw new VaultException(ErrorIds.VersionUnknown, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: neither {target.VersionPath} nor git in {target.AppPath} tells the version. {version.Error}",
                "Check that the backend runs (Get-VaultBackendStatus) and that AppPath is its git checkout.");
        }

        if (version.Source == "git")
        {
            output.Warning($"{target.Name}: {target.VersionPath} did not answer ({version.Error}); the version comes from git in {target.AppPath}.");
        }

        output.Output(version);
    }
}
