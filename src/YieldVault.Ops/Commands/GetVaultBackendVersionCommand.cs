using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>The version and commit a backend runs: its version endpoint, else package.json and git of the release (the image for Docker).</summary>
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
                $"{target.DisplayName}: nothing tells the version: {version.Error}",
                target.ServiceManager is ServiceManagerKind.Docker or ServiceManagerKind.Swarm
                    ? "Check that the backend runs (Get-VaultBackendStatus), or label its image with org.opencontainers.image.version."
                    : "Check that the backend runs (Get-VaultBackendStatus) and that AppPath is its release (a git checkout, or a directory with package.json).");
        }

        var where = version.Source switch
        {
            "git" => $"git in {target.AppPath}" + (version.Version is null ? "" : $" (package.json {version.Version})"),
            "package.json" => $"package.json in {target.AppDirectory}",
            "image" => $"the image of the container {target.ServiceName}",
            _ => null,
        };
        if (where is not null && target.HasVersionPath)
        {
            output.Warning($"{target.Name}: {target.VersionPath} did not answer ({version.Error}); the version comes from {where}.");
        }
        else if (where is not null)
        {
            output.Verbose($"{target.Name}: no version endpoint (VersionPath ''); the version comes from {where}.");
        }

        output.Output(version);
    }
}
